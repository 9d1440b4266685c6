"""The tenant URLconf plus `/hooks/__hello__`, a hello-world Django view served by the same
processes and the same middleware as the webhooks (the baseline their latency is compared with)."""

from django.http import HttpResponse
from django.urls import include, path


def hello(request):
    return HttpResponse(b"hello", content_type="text/plain")


urlpatterns = [
    path("hooks/__hello__", hello),
    path("", include("portal.urls_tenant")),
]
