"""URLs served on every host: sign-in, health, metrics."""

from django.urls import include, path

from portal import views
from portal.media import media_serve

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", include("portal.api")),
    path("", include("django_prometheus.urls")),
    # Brand logos: re-encoded images (portal.uploads), served with a safe type and a sandbox CSP.
    path("media/<path:path>", media_serve, name="media"),
]
