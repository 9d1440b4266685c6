from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"

    def ready(self) -> None:
        # A new tenant can start from the standard chart (tenants sits below mappings, so mappings
        # registers it there); imported in ready(): the models are loaded only now.
        from mappings.services import standard_chart_apply  # import here: needs the app registry
        from tenants.onboarding import CHART_STANDARD, chart_template_register  # import here: needs the app registry

        chart_template_register(CHART_STANDARD, standard_chart_apply)
