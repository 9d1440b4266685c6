"""Tenants tasks: outbound webhook delivery (thin: load, call the service, re-queue on failure),
a sweeper that re-sends deliveries whose queued task was lost, and the usage counters' flush."""

from __future__ import annotations

from celery import shared_task

from tenants.domains import domain_verifications_recheck
from tenants.models import WebhookDelivery
from tenants.usage import usage_flush
from tenants.webhooks import webhook_deliveries_overdue, webhook_delivery_attempt


@shared_task(name="tenants.webhook_deliver")
def webhook_deliver(delivery_id: int) -> str:
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"
    delay = webhook_delivery_attempt(delivery=delivery)
    if delay is not None:
        webhook_deliver.apply_async(kwargs={"delivery_id": delivery_id}, countdown=delay)
    return delivery.status


@shared_task(name="tenants.webhook_deliveries_sweep")
def webhook_deliveries_sweep() -> int:
    """Beat entry (portal/celery.py). A delivery sent twice is harmless: receivers dedupe on the event id."""
    ids = list(webhook_deliveries_overdue().values_list("pk", flat=True)[:500])
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id=delivery_id)
    return len(ids)


@shared_task(name="tenants.domain_verifications_recheck")
def domain_verifications_recheck_task() -> dict[str, int]:
    """Beat entry (portal/celery.py): verify pending custom domains, flag verified ones whose TXT
    record is gone. Public-schema work, so a platform beat entry rather than a per-tenant job."""
    return domain_verifications_recheck()


@shared_task(name="tenants.usage_flush")
def usage_flush_task() -> int:
    """Beat entry (portal/celery.py), once a minute: the Redis usage counters into UsageRecord
    (public), exactly once even if a flush crashed half-way."""
    return usage_flush()
