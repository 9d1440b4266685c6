from django.apps import AppConfig


class PostingConfig(AppConfig):
    name = "posting"

    def ready(self) -> None:
        from posting import tasks  # noqa: F401 - registers the batch close job
        from posting.retry import retry_actions_register

        retry_actions_register()
