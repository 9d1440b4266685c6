from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from posting.retry import retry_actions_register

        retry_actions_register()
