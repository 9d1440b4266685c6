"""URLs served on every host: sign-in, health, metrics."""

from django.urls import include, path

from core.media import media_serve
from portal import views
from portal.metrics import metrics
from tenants import views as tenant_views

urlpatterns = [
    path("accounts/invitations/<str:key>/", tenant_views.invitation_respond, name="invitation_respond"),
    path("accounts/", include("allauth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("portal.api")),
    path("metrics", metrics, name="metrics"),
    # Brand logos: re-encoded images (core.uploads), served with a safe type and a sandbox CSP.
    path("media/<path:path>", media_serve, name="media"),
]
