from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"

    def ready(self) -> None:
        # Register the per-minute periodic jobs and the triage retry actions in every process.
        from connectors import jobs, retry  # noqa: F401 # import here: needs the app registry
