"""URLs served on every host: sign-in, health, metrics."""

from django.conf import settings
from django.urls import include, path
from django.views.static import serve

from portal import views
from tenants import views as tenant_views

urlpatterns = [
    path("accounts/invitations/<str:key>/", tenant_views.invitation_respond, name="invitation_respond"),
    path("accounts/", include("allauth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("portal.api")),
    path("", include("django_prometheus.urls")),
    # Brand logos; uploads are validated raster images (tenants.validators).
    path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
]
