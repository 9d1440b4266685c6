"""The /api/v1 router: the OpenAPI schema and each app's API, mounted under one prefix."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("schema/swagger/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-swagger"),
    path("schema/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("tenants.api")),
    path("", include("tenants.api_billing")),
    path("", include("posting.erp.api")),
    path("", include("triage.api")),
    path("", include("connectors.api")),
    path("", include("mappings.api")),
    path("", include("posting.api")),
    path("", include("commerce.api")),
    path("", include("promotions.api")),
]
