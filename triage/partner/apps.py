from django.apps import AppConfig


class TriagePartnerConfig(AppConfig):
    name = "triage.partner"
    label = "triage_partner"
    verbose_name = "Exception inbox (partner-wide)"

    def ready(self) -> None:
        # The partner's tenant list shows open exceptions and SLA breaches from the index; tenants
        # sits below triage, so triage registers those columns (imported in ready(): the models are loaded only now).
        from tenants.selectors import tenant_health_register  # import here: needs the app registry
        from triage.partner.selectors import tenant_health_annotations  # import here: needs the app registry

        tenant_health_register(tenant_health_annotations)
