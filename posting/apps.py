from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from posting.erp import tokens  # noqa: F401 - registers the token keepalive job
        from posting.retry import retry_actions_register

        retry_actions_register()
