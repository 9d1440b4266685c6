from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"

    def ready(self) -> None:
        # Register the inventory retry action, the push task and the per-minute push sweep in every process.
        # Register the inventory and return retry actions and their periodic jobs in every process.
        from commerce import (  # noqa: F401 # import here: needs the app registry
            inventory_sync,
            returns_checks,
            tasks,
        )
