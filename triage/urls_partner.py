"""Partner console pages of the exception inbox (public schema: TriageIndex and alert rules)."""

from django.urls import path

from triage import views_partner

urlpatterns = [
    path("exceptions/", views_partner.partner_inbox, name="partner_exceptions"),
    path("alerts/", views_partner.alert_rules, name="partner_alert_rules"),
    path("alerts/<int:rule_id>/deactivate/", views_partner.alert_rule_deactivate, name="partner_alert_rule_deactivate"),
]
