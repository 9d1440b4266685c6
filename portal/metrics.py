"""/metrics: Prometheus metrics for a scraper holding METRICS_TOKEN, and for nobody else.

The metrics name tenants' traffic and the portal's internals, and the route answers on every host
(operator, partner and tenant domains alike), so it is closed unless a token is configured:
unset → 404 (as if there were no such page), a missing or wrong bearer token → 401.

Besides django-prometheus's process metrics it serves the business metrics of core/metrics.py,
which every process (web and worker) records in Redis and this view reads back at scrape time.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from core import metrics as business_metrics  # noqa: F401 - registers the business metrics' Redis collector


def metrics_token_valid(*, header: str, token: str) -> bool:
    """True when the Authorization header is `Bearer <token>`; compared in constant time."""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Not found")
    if not metrics_token_valid(header=request.headers.get("Authorization", ""), token=token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return ExportToDjangoView(request)
