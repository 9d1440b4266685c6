from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Exception inbox"

    def ready(self) -> None:
        # Registers the per-tenant periodic SLA job with core.periodic in every process.
        from triage import tasks  # noqa: F401 # import here: needs the app registry
