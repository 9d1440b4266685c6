"""The transactional inbox (DESIGN.md §6): store first, acknowledge, process on commit.

`event_store` is all a webhook does before answering 200. `event_process` turns one stored event
into canonical documents, upserts them into commerce and posts them, in one transaction that also
marks the event processed, so a crash at any point leaves the event `received` or `failed` (swept
and retried), never half-applied. Every step is idempotent, so a retry or a replay is always safe.

A suspended tenant's events are still verified, stored and acknowledged, but `held`: nothing
dispatches them, the sweeper skips them and `event_process` holds any it is handed. On resume
`events_release_held` processes them one by one in the order they were received (DESIGN.md §7).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_redis import get_redis_connection

from commerce.documents import (
    CanonicalInventoryLevel,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalProcessorCharge,
    CanonicalRefund,
)
from commerce.documents_returns import CanonicalReturn
from commerce.inventory import inventory_level_upsert
from commerce.returns import return_upsert
from commerce.selectors import order_stored
from commerce.services import order_upsert, payout_upsert, refund_upsert
from commerce.upserts import UpsertOutcome
from connectors.errors import PERMANENT, TRANSIENT, error_field, error_text
from connectors.health import order_event_count
from connectors.models import Connection, InboundEvent
from connectors.vendors import adapter_for_vendor, adapters
from connectors.vendors.base import Adapter, DependencyMissing, Document, NormaliseError, Record
from core import metrics
from core.context import trace_bind, trace_id_current, trace_restored
from core.tasks import task_named
from posting import services as posting
from posting.reconciliation import payout_reconcile
from tenants.due import tenant_due_bump
from tenants.selectors import tenant_current_suspended
from tenants.usage import usage_count
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

SWEEP_AFTER = dt.timedelta(minutes=2)
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
# Headers worth keeping with the raw body (ids, topics, versions); signatures and auth never.
KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
    "x-shopify-shop-domain",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
    "square-environment",
    "content-type",
    "user-agent",
)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def headers_kept(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {key.lower(): value for key, value in headers.items()}
    return {key: lowered[key][:200] for key in KEPT_HEADERS if key in lowered}


def _dispatch(event_id: int) -> None:
    """Send the processing task; if the broker is down the event stays `received` for the sweeper."""
    process_inbound_event = task_named("connectors.process_inbound_event")
    try:
        process_inbound_event.apply_async(kwargs={"event_id": event_id}, retry=False)
    except Exception:  # broker down: never fail the webhook that already committed its event
        log.warning("connectors.dispatch_failed", event_id=event_id, exc_info=True)


def event_store(
    *,
    connection: Connection,
    topic: str,
    external_id: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    source: str = InboundEvent.Source.WEBHOOK,
    sync_run_id: int | None = None,
    dispatch: bool = True,
    suspended: bool | None = None,
) -> tuple[InboundEvent, bool]:
    """Store the raw event once (unique on connection, topic, external id, payload hash).
    Returns (event, created); a duplicate returns the stored event and dispatches nothing.
    `suspended` is the tenant's status when the caller has just read it (the webhook view: its
    request's tenant, read by the host routing of this very request); None reads it here."""
    digest = payload_hash(body)
    lookup = {"connection": connection, "topic": topic[:80], "external_id": external_id[:120], "payload_hash": digest}
    existing = InboundEvent.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    held = tenant_current_suspended() if suspended is None else suspended
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                **lookup,
                source=source,
                body=body.decode("utf-8", errors="replace"),
                headers=headers_kept(headers or {}),
                sync_run_id=sync_run_id,
                trace_id=trace_id_current() or uuid.uuid4().hex,
                status=InboundEvent.Status.HELD if held else InboundEvent.Status.RECEIVED,
            )
            if source == InboundEvent.Source.WEBHOOK:
                usage_count(metric="webhook_events")
            tenant_due_bump()  # the tenant's periodic jobs (the sweep) watch the new event
    except IntegrityError:
        # A concurrent copy won the race: that one is the event.
        return InboundEvent.objects.get(**lookup), False
    if held:
        log.info("connectors.event_held", event_id=event.pk, topic=event.topic, schema=db.schema_name)
    counts = (
        partial(metrics.event_received, **_metric_labels(event), source=source, held=held),
        partial(
            order_event_count, schema=db.schema_name, connection_id=connection.pk, topic=topic, at=event.received_at
        ),
    )
    transaction.on_commit(partial(_stored, counts=counts, dispatch=dispatch and not held))
    return event, True


# Appliers of documents other flows add (connectors.fulfilment: shipments, warehouse orders),
# registered at start-up: `applier(connection=…, document=…) -> record dict` with an "outcome".
DOCUMENT_APPLIERS: dict[type, Callable[..., dict[str, Any]]] = {}


def document_applier_register(document_type: type, applier: Callable[..., dict[str, Any]]) -> None:
    DOCUMENT_APPLIERS[document_type] = applier


def _stored(*, counts: tuple[partial, ...], dispatch: bool) -> None:
    """Once the event is committed: count it (its place in the backlog, the channel's hourly orders),
    then wake the tenant's batch (connectors.ingest), which takes it with whatever else arrived meanwhile."""
    for count in counts:
        count()
    if dispatch:
        ingest_wake()


INGEST_WAKE_SECONDS = 2


def _ingest_wake_key() -> str:
    return f"tb:ingest:wake:{db.schema_name}"


def ingest_wake() -> None:
    """Send the tenant's batch task, at most once per INGEST_WAKE_SECONDS while none has started:
    a storm of webhooks sends a few tasks, not one per event. The batch clears the mark as it
    starts, so an event stored after its claim always wakes another. If Redis or the broker is
    down the events stay `received` and the sweeper sends them."""
    try:
        if not get_redis_connection("default").set(_ingest_wake_key(), "1", nx=True, ex=INGEST_WAKE_SECONDS):
            return  # a batch is already on its way and has not claimed yet
        task_named("connectors.ingest_batch").apply_async(retry=False)
    except Exception:  # never fail the webhook that already committed its event
        log.warning("connectors.ingest_wake_failed", schema=db.schema_name, exc_info=True)


def ingest_wake_clear() -> None:
    try:
        get_redis_connection("default").delete(_ingest_wake_key())
    except Exception:  # Redis down: the mark expires by itself within INGEST_WAKE_SECONDS
        log.warning("connectors.ingest_wake_clear_failed", schema=db.schema_name, exc_info=True)


def _metric_labels(event: InboundEvent) -> dict[str, Any]:
    return {
        "vendor": event.connection.vendor,
        "topic": event.topic,
        "backlog_member": f"{db.schema_name}:{event.pk}",
        "received_at": event.received_at,
    }


def record_store(*, connection: Connection, record: Record, source: str, **options: Any) -> tuple[InboundEvent, bool]:
    """Store a polled or file record exactly like a webhook body (`event_store`'s options apply)."""
    return event_store(
        connection=connection,
        topic=record.topic,
        external_id=record.external_id,
        body=record.body,
        source=source,
        **options,
    )


def _retry_delay(attempts: int) -> float:
    base = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def _posted(outcome: posting.PostingOutcome) -> dict[str, Any]:
    """What a posting outcome adds to an event's result record."""
    return {"posting": outcome.status.value, "journal_id": outcome.entry.pk if outcome.entry else None}


def _document_apply(*, connection: Connection, document: Document) -> dict[str, Any]:
    source, connection_id = connection.vendor, connection.pk
    if isinstance(document, CanonicalOrder):
        result = order_upsert(source=source, connection_id=connection_id, document=document)
        record: dict[str, Any] = {"type": "order", "external_id": document.external_id, "id": result.obj.pk}
        if result.outcome != UpsertOutcome.IGNORED_STALE:
            outcome = posting.journal_post_order(order=result.obj)
            record.update(_posted(outcome))
            if result.obj.cancelled_at is not None:
                record["cancellation"] = posting.journal_post_cancellation(order=result.obj).status.value
    elif isinstance(document, CanonicalRefund):
        if not order_stored(source=source, connection_id=connection_id, external_id=document.order_external_id):
            # Delivered before its order (webhooks arrive in any order): retried, then a dead letter.
            raise DependencyMissing(
                f"Refund {document.external_id} is for order {document.order_external_id}, not stored yet."
            )
        result = refund_upsert(source=source, connection_id=connection_id, document=document)
        record = {"type": "refund", "external_id": document.external_id, "id": result.obj.pk}
        if result.outcome != UpsertOutcome.IGNORED_STALE:
            outcome = posting.journal_post_refund(refund=result.obj)
            record.update(_posted(outcome))
    elif isinstance(document, CanonicalPayout):
        result = payout_upsert(source=source, connection_id=connection_id, document=document)
        record = {"type": "payout", "external_id": document.external_id, "id": result.obj.pk}
        if result.outcome != UpsertOutcome.IGNORED_STALE:
            outcome = posting.journal_post_payout(payout=result.obj)
            record.update(_posted(outcome))
            if outcome.entry is not None:
                record["reconciliation"] = payout_reconcile(payout=result.obj).status
    elif isinstance(document, CanonicalProcessorCharge):
        # Nothing is stored in commerce: the storefront's order is the document; the charge only
        # settles its clearing and books the fee (posting.services.journal_post_processor_charge).
        outcome = posting.journal_post_processor_charge(charge=document)
        if outcome.status == posting.PostingStatus.ORDER_MISSING:
            raise DependencyMissing(
                f"Stripe charge {document.external_id} pays an order not ingested yet "
                f"(looked for {', '.join((*document.references, *document.order_references))})."
            )
        return {
            "type": "processor_charge",
            "external_id": document.external_id,
            **_posted(outcome),
            "outcome": "posted" if outcome.entry else outcome.status.value,
        }
    elif isinstance(document, CanonicalReturn):
        if not order_stored(source=source, connection_id=connection_id, external_id=document.order_external_id):
            raise DependencyMissing(f"Return {document.external_id} is for order {document.order_external_id}.")
        result = return_upsert(source=source, connection_id=connection_id, document=document)
        record = {"type": "return", "external_id": document.external_id, "id": result.obj.pk}
    elif isinstance(document, CanonicalInventoryLevel):
        result = inventory_level_upsert(source=source, connection_id=connection_id, document=document)
        record = {
            "type": "inventory_level",
            "external_id": f"{document.location_external_id}:{document.sku}",
            "id": result.obj.pk,
        }
    elif type(document) in DOCUMENT_APPLIERS:  # documents of other flows (fulfilment shipments)
        return DOCUMENT_APPLIERS[type(document)](connection=connection, document=document)
    else:  # pragma: no cover - adapters return only these document types
        raise NormaliseError(f"Unknown document {type(document).__name__}.")
    record["outcome"] = result.outcome.value
    if result.outcome == UpsertOutcome.IGNORED_STALE:
        log.info(
            "connectors.stale_ignored",
            event_type=record["type"],
            external_id=record["external_id"],
            stored_version=result.obj.source_version,
        )
    return record


def _lock_key(connection_id: int, external_id: str) -> int:
    return zlib.crc32(f"{db.schema_name}:{connection_id}:{external_id}".encode()) - 2**31


_FINISHED = (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED, InboundEvent.Status.DEAD)


def event_processed_set(event: InboundEvent, records: list[dict[str, Any]], *, now: dt.datetime, **log_fields) -> None:
    """Mark an applied event processed (ignored when nothing was applied), unsaved; count it once
    the caller's transaction commits, and log it. Shared by `event_process` and the batched ingest."""
    event.status = InboundEvent.Status.PROCESSED if records else InboundEvent.Status.IGNORED
    event.result = {"documents": records}
    event.last_error = ""
    event.next_attempt_at = None
    event.processed_at = now
    transaction.on_commit(partial(metrics.event_finished, **_metric_labels(event), status=event.status))
    log.info("connectors.event_processed", event_id=event.pk, topic=event.topic, status=event.status, **log_fields)


def event_process(*, event_id: int) -> InboundEvent | None:
    """Process one event; safe to call any number of times, concurrently too. What the event needs
    from the vendor's API (and the stored documents it refers to) is read first, outside the
    transaction and its locks (DESIGN.md §1); under the locks the event is only normalised (pure)
    and applied. Its log lines carry the event's trace id; the caller's trace is back afterwards."""
    with trace_restored():
        return _event_process(event_id)


def _event_process(event_id: int) -> InboundEvent | None:
    prefetched = _event_prefetch(event_id)
    with transaction.atomic():
        # Only the event row: a lock on its connection would hold every webhook of that connection
        # (its event's foreign-key check at commit) until this transaction ends (issue 17).
        events = InboundEvent.objects.select_for_update(of=("self",)).select_related("connection")
        event = events.filter(pk=event_id).first()
        if event is None or event.status in _FINISHED:
            return event
        trace_bind(event.trace_id)  # every log line of this task, and the journals it posts, carry it
        if tenant_current_suspended():
            return _event_hold(event)
        connection = event.connection
        if connection.status == Connection.Status.PAUSED:
            if event.status == InboundEvent.Status.HELD:  # released by the tenant, held by the connection
                event.status = InboundEvent.Status.RECEIVED
                event.save(update_fields=["status"])
            return event  # stays received; resuming the connection sweeps it
        with db.cursor() as cursor:
            # Two events about the same order (created/updated) serialise here, so neither sees
            # the other's half-written order nor races it to the unique constraint.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(connection.pk, event.external_id)])
        event.attempts += 1
        stage = [f"Normalising {event.topic}"]
        try:
            with transaction.atomic():
                records = event_apply(event=event, connection=connection, stage=stage, prefetched=prefetched)
        except PERMANENT as error:
            return _event_fail(event=event, error=error, permanent=True, stage=stage[0])
        except TRANSIENT as error:
            return _event_fail(event=event, error=error, permanent=False, stage=stage[0])
        except Exception as error:  # any other type: never leave the event `received` (DESIGN.md §4)
            log.exception("connectors.event_unexpected_error", event_id=event.pk, topic=event.topic)
            return _event_fail(event=event, error=error, permanent=False, stage=stage[0])
        had_problem = event.attempts > 1 or bool(event.last_error)
        event_processed_set(event, records, now=timezone.now())
        event.save(update_fields=["status", "result", "last_error", "next_attempt_at", "processed_at", "attempts"])
        if had_problem:
            exception_resolve_for_object(obj=event, reason="Processed")
        return event


def _event_hold(event: InboundEvent) -> InboundEvent:
    """The tenant is suspended: keep the event for `events_release_held`, untouched otherwise."""
    if event.status != InboundEvent.Status.HELD:
        event.status = InboundEvent.Status.HELD
        event.next_attempt_at = None
        event.save(update_fields=["status", "next_attempt_at"])
    return event


@dataclass(frozen=True)
class Prefetched:
    """What `adapter.prefetch` read for an event before its transaction, or the error it raised
    (raised again under the event's lock, so it fails the event exactly as a normalise error would)."""

    fetched: Mapping[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


def _event_payload(event: InboundEvent, connection: Connection) -> tuple[Adapter, Any]:
    adapter = adapter_for_vendor(connection.vendor)
    try:
        payload = json.loads(event.body)
    except ValueError as error:
        raise NormaliseError(f"The stored body is not JSON: {error}") from None
    if event.topic not in adapter.topics:
        raise NormaliseError(f"Topic {event.topic!r} is not one {connection.get_vendor_display()} connections handle.")
    return adapter, payload


def _event_prefetch(event_id: int) -> Prefetched | None:
    """Read what the event needs from the network, holding no transaction and no lock. None when the
    event will not be normalised now (gone, finished, held, or its connection paused)."""
    event = InboundEvent.objects.select_related("connection").filter(pk=event_id).first()
    if event is None or event.status in _FINISHED:
        return None
    if event.connection.status == Connection.Status.PAUSED or tenant_current_suspended():
        return None
    try:
        adapter, payload = _event_payload(event, event.connection)
        return Prefetched(fetched=adapter.prefetch(topic=event.topic, payload=payload, connection=event.connection))
    except Exception as error:  # classified under the lock by event_process, like any normalise error
        return Prefetched(error=error)


def event_apply(
    *,
    event: InboundEvent,
    connection: Connection,
    stage: list[str] | None = None,
    prefetched: Prefetched | None = None,
) -> list[dict[str, Any]]:
    """Normalise the event and apply its documents. `stage[0]` is kept up to date (normalising,
    then storing and posting each document) so a failure can say where it happened. Without
    `prefetched` (the caller read nothing beforehand), the adapter's reads happen here."""
    stage = stage if stage is not None else [""]
    stage[0] = f"Normalising {event.topic}"
    if prefetched is not None and prefetched.error is not None:
        raise prefetched.error
    adapter, payload = _event_payload(event, connection)
    if prefetched is None:
        prefetched = Prefetched(fetched=adapter.prefetch(topic=event.topic, payload=payload, connection=connection))
    documents = adapter.normalise(topic=event.topic, payload=payload, connection=connection, fetched=prefetched.fetched)
    records = []
    for document in documents:
        stage[0] = (
            f"Storing and posting {type(document).__name__.removeprefix('Canonical').lower()} {_doc_id(document)}"
        )
        records.append(_document_apply(connection=connection, document=replace(document, raw_event_id=event.pk)))
    return records


def _doc_id(document: Document) -> str:
    return str(getattr(document, "external_id", "") or getattr(document, "sku", ""))


def _event_fail(*, event: InboundEvent, error: BaseException, permanent: bool, stage: str = "") -> InboundEvent:
    message = error_text(error, stage=stage)
    event.last_error = message
    dead = permanent or event.attempts >= settings.CONNECTOR_EVENT_MAX_ATTEMPTS
    if dead:
        event.status = InboundEvent.Status.DEAD
        event.next_attempt_at = None
    else:
        event.status = InboundEvent.Status.FAILED
        event.next_attempt_at = timezone.now() + dt.timedelta(seconds=_retry_delay(event.attempts))
    event.save(update_fields=["status", "last_error", "next_attempt_at", "attempts"])
    tenant_due_bump()  # the sweep retries it (or the tenant's exception SLA starts)
    transaction.on_commit(partial(metrics.event_finished, **_metric_labels(event), status=event.status))
    log.warning(
        "connectors.event_failed",
        event_id=event.pk,
        topic=event.topic,
        attempts=event.attempts,
        dead=dead,
        error=message,
        trace_id=event.trace_id,
    )
    if dead:
        cause = getattr(error, "cause", None) or ("normalise" if permanent else "dead_letter")
        if isinstance(error, ValidationError):
            cause = "invalid_document"
        if isinstance(error, NormaliseError) and message.startswith("Topic "):
            cause = "unknown_topic"
        inventory = event.topic in getattr(adapters().get(event.connection.vendor), "inventory_topics", ())
        exception_raise(
            kind="inventory" if inventory else ("normalise" if permanent else "sync"),
            cause=cause,
            obj=event,
            title=f"{event.connection.name}: {event.topic} {event.external_id} could not be processed",
            detail=message,
            context={
                "event_id": event.pk,
                "topic": event.topic,
                "attempts": event.attempts,
                "field": error_field(message),
                "stage": stage,
                "error_type": type(error).__name__,
            },
            retry=RetryAction("connectors.replay", {"event_id": event.pk}),
            tags=("connectors", cause),
            payload=_payload_for_triage(event.body),
        )
    return event


def _payload_for_triage(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


@transaction.atomic
def event_replay(*, event: InboundEvent, dispatch: bool = True) -> InboundEvent:
    """Run a stored event through the pipeline again (after fixing the cause). Idempotent: a
    processed event is processed again and its documents upsert as unchanged."""
    event = InboundEvent.objects.select_for_update().get(pk=event.pk)
    event.status = InboundEvent.Status.RECEIVED
    event.attempts = 0
    event.next_attempt_at = None
    event.save(update_fields=["status", "attempts", "next_attempt_at"])
    if dispatch:
        transaction.on_commit(lambda: _dispatch(event.pk))
    return event


def events_due() -> QuerySet[InboundEvent]:
    """Events whose task was lost (broker down, worker killed) or whose retry is due."""
    now = timezone.now()
    return (
        InboundEvent.objects.filter(
            Q(status=InboundEvent.Status.RECEIVED, received_at__lt=now - SWEEP_AFTER)
            | Q(status=InboundEvent.Status.PROCESSING, received_at__lt=now - SWEEP_AFTER)
            | Q(status=InboundEvent.Status.FAILED, next_attempt_at__lte=now)
        )
        .exclude(connection__status=Connection.Status.PAUSED)
        .order_by("received_at")
    )


def events_sweep(*, limit: int = 500) -> int:
    """Re-enqueue due events (the per-minute periodic job). Returns how many were sent. A suspended
    tenant's sweep sends nothing; an active tenant with held events left over (the release task was
    lost) sends the release again."""
    if tenant_current_suspended():
        return 0
    if InboundEvent.objects.filter(status=InboundEvent.Status.HELD).exists():
        _dispatch_release()
    ids = list(events_due().values_list("pk", flat=True)[:limit])
    for event_id in ids:
        _dispatch(event_id)
    return len(ids)


RELEASE_LOCK_SECONDS = 600


def events_release_held() -> int:
    """Process the held events of the current (resumed) tenant one by one, oldest received first.
    One release runs per tenant at a time; stops as soon as the tenant is suspended again.
    Returns how many events were processed."""
    if tenant_current_suspended():
        return 0
    redis = get_redis_connection("default")
    lock = f"tb:inbox-release:{db.schema_name}"
    if not redis.set(lock, "1", nx=True, ex=RELEASE_LOCK_SECONDS):
        return 0  # another release is running through them in order
    count = 0
    try:
        held = InboundEvent.objects.filter(status=InboundEvent.Status.HELD).order_by("received_at", "pk")
        for event_id in list(held.values_list("pk", flat=True)):
            event = event_process(event_id=event_id)
            if event is not None and event.status == InboundEvent.Status.HELD and tenant_current_suspended():
                break  # suspended again meanwhile: the next resume goes on from here
            count += 1
    finally:
        redis.delete(lock)
    log.info("connectors.held_released", schema=db.schema_name, count=count)
    return count


def _dispatch_release() -> None:
    release_held_events = task_named("connectors.release_held_events")
    try:
        release_held_events.apply_async(retry=False)
    except Exception:  # broker down: the inbox sweep sends it again
        log.warning("connectors.release_dispatch_failed", schema=db.schema_name, exc_info=True)


def events_release_on_resume() -> None:
    """The tenant was just resumed: send the release if anything is held."""
    if InboundEvent.objects.filter(status=InboundEvent.Status.HELD).exists():
        _dispatch_release()
