from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"

    def ready(self) -> None:
        # Register the per-minute periodic jobs, the triage retry actions and the fulfilment
        # flow's inbox appliers and retries in every process.
        from connectors import fulfilment, jobs, retry  # noqa: F401
