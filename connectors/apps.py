from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"

    def ready(self) -> None:
        # Register the per-minute periodic jobs and the triage retry actions in every process.
        # Commerce sits below the vendor packages: it reaches the sales channels through this callback.
        from commerce.inventory_sync import (  # import here: needs the app registry
            SalesChannels,
            sales_channels_register,
        )
        from connectors import fulfilment, health, jobs, retry, tasks  # noqa: F401 # import here: registers jobs, retry actions, tasks, fulfilment appliers, flow-health signals
        from connectors.selectors import connections_unpaused  # import here: needs the app registry
        from connectors.vendors import channel_vendors  # import here: needs the app registry
        from connectors.vendors.channels import push_available  # import here: needs the app registry

        sales_channels_register(
            SalesChannels(vendors=channel_vendors, connections=connections_unpaused, push_available=push_available)
        )
