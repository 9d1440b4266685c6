from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"

    def ready(self) -> None:
        # Register the inventory retry action, the push task and the per-minute push sweep in every process.
        from commerce import inventory_sync, tasks  # noqa: F401 # import here: needs the app registry
