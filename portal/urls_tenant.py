"""URLs of a tenant portal (`<tenant>.<partner domain>`), served in the tenant's schema."""

from django.urls import include, path

from portal import views
from tenants import views as tenant_views

handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

urlpatterns = [
    path("", views.tenant_home, name="home"),
    path("orders/", views.orders, name="orders"),
    path("audit/", tenant_views.tenant_audit, name="tenant_audit"),
    path("orders/<int:order_id>/", views.order_trace_page, name="order_trace"),
    path("", include("portal.urls_common")),
    path("chart-of-accounts/", include("mappings.urls")),
    path("ledger/", include("posting.urls")),
    path("erp/", include("posting.erp.urls")),
    path("exceptions/", include("triage.urls")),
    path("hooks/", include("connectors.urls_hooks")),
    path("connections/", include("connectors.urls")),
    path("inventory/", include("commerce.urls")),
    path("fulfilment/", include("commerce.urls_fulfilment")),
    path("returns/", include("commerce.urls_returns")),
    path("promotions/", include("promotions.urls")),
]
