from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"

    def ready(self) -> None:
        # Register the inventory and return retry actions and their periodic jobs in every process.
        from commerce import inventory_sync, returns_checks, tasks  # noqa: F401
