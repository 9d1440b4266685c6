from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from mappings.preview import PreviewSource, preview_source_register  # import here: needs the app registry
        from posting import at_risk, tasks  # noqa: F401 # import here: registers the batch close job and the journal's money at risk
        from posting.retry import retry_actions_register  # import here: needs the app registry
        from posting.returns import returns_posting_register  # import here: needs the app registry
        from posting.selectors import journal_preview, orders_recent  # import here: needs the app registry

        retry_actions_register()
        returns_posting_register()  # commerce.returns calls posting back through this listener
        # A mapping set's page previews the journal an order would post under it (mappings sits
        # below posting, so posting hands it the way).
        preview_source_register(PreviewSource(orders=orders_recent, journal_preview=journal_preview))
