from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "promotions"
    verbose_name = "Promotions"

    def ready(self) -> None:
        # Imported only once the apps are loaded: they import models. `retry` and `tasks` register
        # the periodic expiry job and the triage retry action in every process; orders take a
        # published promotion's funding through a callback registered with commerce, which sits
        # below promotions and so never imports it.
        from commerce.services import discount_funder_register  # import here: needs the app registry
        from promotions import retry, tasks  # noqa: F401 # import here: needs the app registry
        from promotions.funding import discounts_funded  # import here: needs the app registry

        discount_funder_register(discounts_funded)
