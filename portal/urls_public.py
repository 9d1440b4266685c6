"""URLs of the public schema: the operator console (product domain) and partner consoles
(partner domains). tenants.views dispatches on the area the host belongs to."""

from django.urls import include, path

from portal.views import partner_kpis_page
from posting.views import partner_payouts_page
from tenants import views, views_usage

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

urlpatterns = [
    path("", views.console_home, name="home"),
    path("partners/new/", views.operator_partner_create, name="operator_partner_create"),
    path("partners/<slug:slug>/plan/", views.operator_partner_plan, name="operator_partner_plan"),
    path("tenants/", views.partner_tenant_list, name="partner_tenants"),
    path("tenants/new/", views.partner_tenant_create, name="partner_tenant_create"),
    path("tenants/<slug:slug>/", views.partner_tenant_detail, name="partner_tenant_detail"),
    path("brand/", views.partner_brand, name="partner_brand"),
    path("brand/preview/", views.partner_brand_preview, name="partner_brand_preview"),
    path("members/", views.partner_member_list, name="partner_members"),
    path("domains/", views.partner_domains, name="partner_domains"),
    path("domains/<int:pk>/check/", views.partner_domain_check, name="partner_domain_check"),
    path("audit/", views.partner_audit, name="partner_audit"),
    path("payouts/", partner_payouts_page, name="partner_payouts"),
    path("kpis/", partner_kpis_page, name="partner_kpis"),
    path("usage/", views_usage.partner_usage, name="partner_usage"),
    path("usage/rates/", views_usage.partner_rates, name="partner_rates"),
    path("usage/statements/", views_usage.partner_statements, name="partner_statements"),
    path("", include("triage.urls_partner")),
    path("", include("portal.urls_common")),
]
