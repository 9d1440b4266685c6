"""Outbound webhooks to partners: subscriptions, signed deliveries, retries (docs/webhooks.md).

`webhook_event_emit` records one delivery per matching active subscription and dispatches the
sending task on commit. The event types, with the payload version every envelope carries, are the
registry in tenants/events.py (docs/events.md is generated from it). Each attempt POSTs the JSON body with
`X-Tillbridge-Signature: t=<unix ts>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`; failures are
retried with exponential backoff and jitter up to WEBHOOKS_MAX_ATTEMPTS, every attempt logged.
Target URLs are checked against SSRF when saved and again before every attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import time
import uuid
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core import metrics
from core.crypto import token_rotate
from core.http.client import ConnectorError, UnsafeUrl, VendorClient, VendorTimeout
from core.http.netsafety import UnsafeUrl as UnsafeUrlInput
from core.http.netsafety import connect_failure_message, url_check
from core.http.netsafety import resolve_host as _resolve
from core.tasks import task_named
from tenants.audit import audit_record
from tenants.events import event_names, event_type_get
from tenants.models import Partner, Tenant, User, WebhookDelivery, WebhookSubscription

EVENTS = event_names()  # what a subscription may name: the registry (tenants/events.py)
TIMEOUT_SECONDS = 10.0
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
SIGNATURE_HEADER = "X-Tillbridge-Signature"
EVENT_HEADER = "X-Tillbridge-Event"


def webhook_url_validate(url: str) -> str:
    """The URL if it is http(s) and every address its host resolves to is public, else ValidationError."""
    try:
        return url_check(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE, resolve=_resolve)
    except UnsafeUrlInput as exc:
        raise ValidationError({"url": exc.message}, code=exc.code) from exc


def _events_validate(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise ValidationError(
            {"events": f"Choose from {', '.join(EVENTS)}" + (f"; unknown: {unknown}" if unknown else "")}
        )
    return sorted(set(events))


@transaction.atomic
def webhook_subscription_create(
    *, partner: Partner, url: str, events: list[str], actor: User | None, actor_label: str | None = None
) -> WebhookSubscription:
    subscription = WebhookSubscription.objects.create(
        partner=partner,
        url=webhook_url_validate(url),
        events=_events_validate(events),
        secret="whsec_" + secrets.token_urlsafe(32),
    )
    audit_record(
        actor=actor,
        action="webhook.create",
        target=subscription,
        partner=partner,
        changes={"url": subscription.url, "events": subscription.events},
        actor_label=actor_label,
    )
    return subscription


@transaction.atomic
def webhook_subscription_deactivate(
    *, subscription: WebhookSubscription, actor: User | None, actor_label: str | None = None
) -> WebhookSubscription:
    if subscription.active:
        subscription.active = False
        subscription.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="webhook.deactivate",
            target=subscription,
            partner=subscription.partner,
            actor_label=actor_label,
        )
    return subscription


def _dispatch(delivery_id: int, *, countdown: float = 0) -> None:
    webhook_deliver = task_named("tenants.webhook_deliver")
    webhook_deliver.apply_async(kwargs={"delivery_id": delivery_id}, countdown=countdown)


def webhook_event_emit(*, partner: Partner, event: str, payload: dict) -> list[WebhookDelivery]:
    return webhook_events_emit(partner=partner, event=event, payloads=[payload])


@transaction.atomic
def webhook_events_emit(*, partner: Partner, event: str, payloads: list[dict]) -> list[WebhookDelivery]:
    """One delivery per (subscriber of `event`, payload): one query for the subscribers and one
    insert however many payloads (a batch of posted orders announces them together)."""
    event_type = event_type_get(event)
    if event_type is None:
        raise ValidationError({"event": f"{event!r} is not a webhook event."})
    subscribers = [
        subscription
        for subscription in WebhookSubscription.objects.filter(partner=partner, active=True)
        if event in subscription.events
    ]
    if not subscribers or not payloads:
        return []
    envelopes = [
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": event,
            "version": event_type.version,
            "created": int(time.time()),
            "partner": partner.slug,
            "data": payload,
        }
        for payload in payloads
    ]
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=subscription, event=event, payload=envelope)
        for envelope in envelopes
        for subscription in subscribers
    )
    for delivery in deliveries:
        transaction.on_commit(lambda delivery_id=delivery.pk: _dispatch(delivery_id))
    return deliveries


def tenant_event_emit(*, event: str, payload: dict) -> None:
    """Emit `event` about the tenant whose schema is active to its partner's subscribers, once the
    surrounding transaction commits (nothing is announced for work that rolled back)."""
    tenant_events_emit(event=event, payloads=[payload])


def tenant_events_emit(*, event: str, payloads: list[dict]) -> None:
    """`tenant_event_emit` for many payloads of one event: announced together after commit."""
    tenant = getattr(db_connection, "tenant", None)
    if not isinstance(tenant, Tenant):
        raise RuntimeError(f"{event} is a tenant event: emit it inside a tenant schema.")
    data = [{"tenant": tenant.slug, **payload} for payload in payloads]
    if data:
        transaction.on_commit(lambda: webhook_events_emit(partner=tenant.partner, event=event, payloads=data))


@transaction.atomic
def webhook_secrets_rotate() -> int:
    """Re-encrypt every subscription's signing secret with the newest credential key."""
    count = 0
    for subscription in WebhookSubscription.objects.select_for_update().exclude(secret_encrypted=""):
        subscription.secret_encrypted = token_rotate(subscription.secret_encrypted)
        subscription.save(update_fields=["secret_encrypted"])
        count += 1
    return count


def webhook_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_backoff_seconds(attempts: int) -> float:
    """Exponential (30 s, 60 s, 120 s, …, capped at 6 h) with ±20 % jitter."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def _delivery_error(exc: ConnectorError) -> str:
    """What the partner reads about a failed attempt; the raw connection error stays in the logs."""
    if exc.status_code is not None:
        return f"HTTP {exc.status_code}"
    if isinstance(exc, VendorTimeout):
        return f"{exc.transport_error}: the endpoint did not answer in time."
    return (exc.connect_failure or exc.message).replace("the vendor", "the endpoint")


def webhook_delivery_attempt(*, delivery: WebhookDelivery) -> float | None:
    """Send one attempt and record it. Returns the delay before the next attempt, or None when done."""
    if delivery.status != WebhookDelivery.Status.PENDING:
        return None
    subscription = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    status_code: int | None = None
    error = ""
    started = time.perf_counter()
    try:
        # The one outbound client, one attempt (deliveries retry on their own schedule): the URL's
        # shape is checked, its host resolved once and refused when any address is private, and the
        # connection goes to the address checked.
        with VendorClient(
            base_url=subscription.url,
            allow_private=settings.WEBHOOKS_ALLOW_PRIVATE,
            timeout=TIMEOUT_SECONDS,
            max_attempts=1,
        ) as client:
            response = client.request(
                "POST",
                subscription.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "Tillbridge-Webhooks/1",
                    EVENT_HEADER: delivery.event,
                    "X-Tillbridge-Delivery": str(delivery.pk),
                    SIGNATURE_HEADER: webhook_sign(secret=subscription.secret, body=body, timestamp=timestamp),
                },
            )
        status_code = response.status_code
    except UnsafeUrl as exc:
        error = exc.message
    except ConnectorError as exc:
        status_code, error = exc.status_code, _delivery_error(exc)
    except httpx.HTTPError as exc:
        message = connect_failure_message(exc, what=f"webhook delivery {delivery.pk}")
        error = message.replace("the vendor", "the endpoint")
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    delivery.attempt_log = [
        *delivery.attempt_log,
        {
            "at": now.isoformat(),
            "status_code": status_code,
            "error": error,
            "ms": round((time.perf_counter() - started) * 1000),
        },
    ]
    delay: float | None = None
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
        metrics.dead_letter(source="webhook_delivery")
    else:
        delay = webhook_backoff_seconds(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save()
    return delay


@transaction.atomic
def webhook_delivery_redeliver(
    *, delivery: WebhookDelivery, actor: User | None, actor_label: str | None = None
) -> WebhookDelivery:
    """Send a delivery again as a new delivery of the same event (the original keeps its history)."""
    again = WebhookDelivery.objects.create(
        subscription=delivery.subscription, event=delivery.event, payload=delivery.payload
    )
    audit_record(
        actor=actor,
        action="webhook.redeliver",
        target=again,
        partner=delivery.subscription.partner,
        changes={"from_delivery": delivery.pk},
        actor_label=actor_label,
    )
    transaction.on_commit(lambda: _dispatch(again.pk))
    return again


SWEEP_GRACE = timedelta(minutes=5)


def webhook_deliveries_overdue() -> QuerySet[WebhookDelivery]:
    """Pending deliveries whose task was lost (broker restart, worker crash): due for 5+ minutes."""
    cutoff = timezone.now() - SWEEP_GRACE
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).filter(
        Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
    )


def webhook_subscriptions_for_partner(*, partner: Partner) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(partner=partner)


def webhook_deliveries_for_partner(*, partner: Partner) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(subscription__partner=partner).select_related("subscription")
