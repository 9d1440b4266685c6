from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"

    def ready(self) -> None:
        from mappings.services import standard_chart_apply  # import here: needs the app registry
        from tenants.onboarding import CHART_STANDARD, chart_template_register  # import here: needs the app registry

        # A new tenant may start from the standard chart (tenants/onboarding.py asks for it by name).
        chart_template_register(CHART_STANDARD, standard_chart_apply)
