from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from posting.erp import tokens  # noqa: F401 - registers the token keepalive job
        from posting.retry import retry_actions_register
        from posting.returns import returns_posting_register

        retry_actions_register()
        returns_posting_register()  # commerce.returns calls posting back through this listener
