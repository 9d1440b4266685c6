from django.apps import AppConfig

from mappings.preview import preview_provider_register


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from posting.erp import tokens  # noqa: F401 # import here: registers the token keepalive job
        from posting.retry import retry_actions_register  # import here: needs the app registry
        from posting.selectors import journal_preview, orders_recent  # import here: needs the app registry

        retry_actions_register()
        # The mapping pages preview an order's journal under a draft set (mappings sits below posting).
        preview_provider_register(orders=orders_recent, preview=journal_preview)
