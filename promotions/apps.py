from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "promotions"
    verbose_name = "Promotions"

    def ready(self) -> None:
        from commerce.services import discount_funding_register  # import here: needs the app registry

        # Registers the periodic expiry job and the triage retry action in every process.
        from promotions import retry, tasks  # noqa: F401 # import here: needs the app registry
        from promotions.funding import discounts_funded  # import here: needs the app registry

        # Orders stored by commerce take a published promotion's funding for their discounts.
        discount_funding_register(discounts_funded)
