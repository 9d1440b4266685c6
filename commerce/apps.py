from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"

    def ready(self) -> None:
        # Register the inventory retry action, the push task and the per-minute push sweep in every process.
        # Register the inventory and return retry actions and their periodic jobs in every process,
        # and the money-at-risk resolvers of orders, refunds and payouts (triage/money.py).
        from commerce import (  # noqa: F401 # import here: needs the app registry
            at_risk,
            inventory_sync,
            returns_checks,
            tasks,
        )
