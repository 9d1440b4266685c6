"""`POST /hooks/<vendor>/<connection id>/`: verify, store, answer — nothing else before the commit.

401 bad signature, 404 unknown connection (or vendor mismatch), 413 too large, 400 not JSON or
without the ids the vendor always sends, 200 stored, held (the tenant is suspended: stored, processed
on resume) or duplicate (a no-op)."""

from __future__ import annotations

import json

import structlog
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.inbox import event_store
from connectors.models import Connection, InboundEvent
from connectors.vendors import adapters
from connectors.vendors.base import WebhookRejected
from core import metrics
from core.context import trace_bind
from tenants.models import Tenant

log = structlog.get_logger(__name__)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt
@require_POST
def webhook_receive(request: HttpRequest, vendor: str, connection_id: int) -> JsonResponse:
    trace_bind()  # the event stores it; the worker and the ERP push log under it (X-Trace-ID)
    adapter = adapters().get(vendor)
    connection = (
        Connection.objects.filter(pk=connection_id, vendor=vendor, direction=Connection.Direction.SOURCE).first()
        if adapter is not None and adapter.supports_webhooks
        else None
    )
    if connection is None:
        return _error(404, "not_found", "No such connection.")
    limit = settings.CONNECTOR_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error(413, "too_large", f"Webhook bodies are limited to {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _error(413, "too_large", f"Webhook bodies are limited to {limit} bytes.")
    if adapter.webhook_ping(body=body, headers=request.headers):
        return JsonResponse({"status": "ping"})
    url = request.build_absolute_uri()
    try:
        adapter.webhook_verify(connection=connection, body=body, headers=request.headers, url=url)
    except WebhookRejected as rejected:
        log.warning("connectors.webhook_rejected", vendor=vendor, connection_id=connection_id, reason=rejected.message)
        metrics.webhook_signature_failed(vendor=vendor)
        return _error(rejected.status, "rejected", rejected.message)
    try:
        payload = json.loads(body)
    except ValueError:
        return _error(400, "invalid_json", "The body is not valid JSON.")
    try:
        identity = adapter.webhook_identify(body=body, payload=payload, headers=request.headers)
    except WebhookRejected as rejected:
        return _error(rejected.status, "invalid_payload", rejected.message)
    # event_store's own transaction is the only one (no savepoint); the tenant's status is the one
    # this request's host routing read (tenants.middleware), not read a second time.
    event, created = event_store(
        connection=connection,
        topic=identity.topic,
        external_id=identity.external_id,
        body=body,
        headers=request.headers,
        suspended=request.tenant.status == Tenant.Status.SUSPENDED,
    )
    status = "held" if event.status == InboundEvent.Status.HELD else "stored"
    return JsonResponse(
        {"status": status if created else "duplicate", "event": event.pk}, headers={"X-Trace-ID": event.trace_id}
    )


@csrf_exempt
@require_POST
def webhook_receive_tokened(request: HttpRequest, vendor: str, connection_id: int, token: str) -> JsonResponse:
    """`POST /hooks/<vendor>/<connection id>/<token>/`: for vendors that sign nothing (ShipStation),
    the secret token in the URL is what the adapter verifies (it reads it from the URL)."""
    return webhook_receive(request, vendor, connection_id)
