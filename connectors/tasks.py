"""Thin tasks: check they run in a tenant schema, load by id, call one service."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.conf import settings

from connectors.fulfilment import fulfilment_channel_push as push
from connectors.fulfilment import request_send
from connectors.inbox import event_process, events_release_held
from connectors.ingest import events_ingest_batch
from connectors.sync import sync_run_step as run_step
from core.fairness import FairTask
from core.tasks import tenant_only

log = structlog.get_logger(__name__)


@shared_task(base=FairTask, fair_queue="events", name="connectors.process_inbound_event", acks_late=True)
def process_inbound_event(*, event_id: int) -> str | None:
    tenant_only("process_inbound_event")
    event = event_process(event_id=event_id)
    return event.status if event is not None else None


@shared_task(base=FairTask, fair_queue="events", name="connectors.ingest_batch", acks_late=True)
def ingest_batch() -> int:
    """Apply a batch of the tenant's received events; while batches come back full, send itself
    again (through the fair queue, so other tenants' batches take their turns in between)."""
    tenant_only("ingest_batch")
    limit = settings.CONNECTOR_INGEST_BATCH
    result = events_ingest_batch(limit=limit)
    if result.claimed >= limit:
        try:
            ingest_batch.apply_async(retry=False)
        except Exception:  # broker down: what is left stays received and the sweeper sends it
            log.warning("connectors.ingest_requeue_failed", exc_info=True)
    return result.claimed


@shared_task(name="connectors.release_held_events", acks_late=True)
def release_held_events() -> int:
    tenant_only("release_held_events")
    return events_release_held()


@shared_task(name="connectors.sync_run_step", acks_late=True)
def sync_run_step(*, run_id: int, step: int | None = None) -> str | None:
    tenant_only("sync_run_step")
    run = run_step(run_id=run_id, step=step)
    return run.status if run is not None else None


@shared_task(name="connectors.fulfilment_channel_push", acks_late=True)
def fulfilment_channel_push(*, fulfilment_id: int) -> str | None:
    tenant_only("fulfilment_channel_push")
    fulfilment = push(fulfilment_id=fulfilment_id)
    return fulfilment.channel_status if fulfilment is not None else None


@shared_task(name="connectors.fulfilment_request_send", acks_late=True)
def fulfilment_request_send(*, request_id: int) -> str | None:
    tenant_only("fulfilment_request_send")
    request = request_send(request_id=request_id)
    return request.status if request is not None else None
