"""The /api/v1 router: the OpenAPI schema and each app's API, mounted under one prefix."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

# The API browsers load their bundles from the jsDelivr CDN (drf-spectacular's default). Only these
# two pages widen the CSP, and only by that origin (plus Google Fonts and a blob worker for Redoc);
# Swagger's start-up script comes from its own URL (the split view), never inline.
CDN = "https://cdn.jsdelivr.net"
swagger_csp = csp_update({"script-src": [CDN], "style-src": [CDN], "img-src": [CDN]})
redoc_csp = csp_update(
    {
        "script-src": [CDN],
        "style-src": ["https://fonts.googleapis.com"],
        "font-src": ["https://fonts.gstatic.com"],
        "worker-src": ["blob:"],
    }
)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "schema/swagger/",
        swagger_csp(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-swagger",
    ),
    path("schema/redoc/", redoc_csp(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("", include("tenants.api")),
    path("", include("tenants.api_billing")),
    path("", include("posting.erp.api")),
    path("", include("triage.api")),
    path("", include("connectors.api")),
    path("", include("mappings.api")),
    path("", include("posting.api")),
    path("", include("posting.api_ledger")),
    path("", include("commerce.api")),
    path("", include("commerce.api_orders")),
    path("", include("portal.api_trace")),
    path("", include("commerce.fulfilment_api")),
    path("", include("commerce.api_returns")),
    path("", include("promotions.api")),
    path("", include("portal.api_kpis")),
]
