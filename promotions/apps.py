from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "promotions"
    verbose_name = "Promotions"

    def ready(self) -> None:
        # Registers the periodic expiry job and the triage retry action in every process.
        from promotions import retry, tasks  # noqa: F401
