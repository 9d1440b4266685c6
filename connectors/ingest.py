"""The batched ingest (issue 17, DESIGN.md §1): many of one tenant's events per transaction.

`events_ingest_batch` claims up to `limit` of the current tenant's `received` events, oldest first
(`FOR UPDATE SKIP LOCKED`, one statement that marks them `processing`; a worker killed after the
claim leaves them `processing`, and the inbox sweeper sends them again after SWEEP_AFTER). It then
reads what they need from the vendors' APIs and normalises them, holding no transaction and no
lock, and applies them in ONE transaction:

- new orders (the common case) are written set-based (`commerce.bulk.orders_create_bulk`) and
  posted together (`posting.services.journals_post_orders`), in a savepoint: if that raises, it is
  rolled back and every event of the batch goes the per-event way below instead;
- everything else (a new version of a stored order, refunds, payouts, returns, inventory, charges,
  a second event about an order already in the batch) goes through the inbox's per-document path,
  one savepoint per event in the order received, so one bad event fails alone, classified and
  dead-lettered exactly as `event_process` does.

Per-order ordering holds: the advisory lock of every event's key is taken in sorted order before
anything is read, only the first event about an order can take the set-based way, and the rest
follow it in the order received. The schema's `search_path` is set once, outside the transaction
(`core.db.base.search_path_pinned`). Suspended tenants and paused connections behave as in
`event_process`: the events are held, or stay `received` until the connection is resumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from commerce.bulk import NewOrder, orders_create_bulk
from commerce.documents import CanonicalOrder
from commerce.models import Order
from commerce.services import order_document_prepare
from connectors.inbox import (
    PERMANENT,
    TRANSIENT,
    _doc_id,
    _document_apply,
    _event_fail,
    _event_payload,
    _lock_key,
    _posted,
    event_processed_set,
    ingest_wake_clear,
)
from connectors.models import Connection, InboundEvent
from connectors.vendors.base import DependencyMissing, Document
from core import metrics
from core.context import trace_bind, trace_restored
from core.db.base import search_path_pinned
from posting.services import journals_post_orders
from tenants.selectors import tenant_current_suspended
from triage.services import exception_resolve_for_objects

log = structlog.get_logger(__name__)

_DONE_FIELDS = ["status", "result", "last_error", "next_attempt_at", "processed_at", "attempts"]


@dataclass
class BatchResult:
    """What one batch did: events claimed, finished (processed or ignored), failed (to be retried
    or dead), held (tenant suspended), left `received` (connection paused), and how many new
    orders took the set-based way; `fell_back` when that way raised and the batch went per event."""

    claimed: int = 0
    processed: int = 0
    failed: int = 0
    held: int = 0
    released: int = 0
    set_based: int = 0
    fell_back: bool = False


@dataclass
class _Work:
    """One claimed event, read and normalised before the transaction (or the error that stopped it)."""

    event: InboundEvent
    documents: list[Document] = field(default_factory=list)
    error: BaseException | None = None
    prepared: CanonicalOrder | None = None  # the order document as stored, when it can go set-based


def events_ingest_batch(*, limit: int | None = None) -> BatchResult:
    """Claim and apply up to `limit` (settings.CONNECTOR_INGEST_BATCH) received events of the
    current tenant (see the module)."""
    limit = limit or settings.CONNECTOR_INGEST_BATCH
    ingest_wake_clear()  # a webhook stored from now on wakes a new batch: none is left waiting
    with trace_restored(), metrics.metrics_batched(), search_path_pinned():
        trace_bind()  # the batch's own trace; each event applied one by one binds its own
        if tenant_current_suspended():
            return BatchResult()  # nothing is dispatched for a suspended tenant; resume releases
        claimed = _claim(limit)
        if not claimed:
            return BatchResult()
        events = list(InboundEvent.objects.select_related("connection").filter(pk__in=claimed))
        events.sort(key=lambda event: (event.received_at, event.pk))
        result = _apply([_read(event) for event in events])
        result.claimed = len(claimed)
    log.info("connectors.batch_ingested", schema=db.schema_name, **result.__dict__)
    return result


def _claim(limit: int) -> list[int]:
    """Mark up to `limit` received events of active connections `processing`, oldest first; one
    statement, so two workers never claim the same event and neither waits for the other."""
    events, connections = InboundEvent._meta.db_table, Connection._meta.db_table
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {events} SET status = %s
            WHERE id IN (
                SELECT e.id FROM {events} e JOIN {connections} c ON c.id = e.connection_id
                WHERE e.status = %s AND c.status <> %s
                ORDER BY e.received_at, e.id
                LIMIT %s
                FOR UPDATE OF e SKIP LOCKED
            )
            RETURNING id
            """,
            [InboundEvent.Status.PROCESSING, InboundEvent.Status.RECEIVED, Connection.Status.PAUSED, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _read(event: InboundEvent) -> _Work:
    """Prefetch (the network) and normalise (pure), outside any transaction. An error is kept and
    raised again in the event's savepoint, where it fails the event like any normalise error."""
    connection = event.connection
    try:
        adapter, payload = _event_payload(event, connection)
        fetched = adapter.prefetch(topic=event.topic, payload=payload, connection=connection)
        documents = adapter.normalise(topic=event.topic, payload=payload, connection=connection, fetched=fetched)
    except Exception as error:  # classified in the transaction, exactly as event_process does
        return _Work(event=event, error=error)
    return _Work(event=event, documents=[replace(document, raw_event_id=event.pk) for document in documents])


def _apply(work: list[_Work]) -> BatchResult:
    result = BatchResult()
    with transaction.atomic():
        mine = set(
            InboundEvent.objects.select_for_update()
            .filter(pk__in=[item.event.pk for item in work], status=InboundEvent.Status.PROCESSING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        work = [item for item in work if item.event.pk in mine]  # the rest were finished meanwhile
        if not work:
            return result
        if tenant_current_suspended():
            result.held = _set_status(work, InboundEvent.Status.HELD, next_attempt_at=None)
            return result
        work, result.released = _without_paused(work)
        _locks_take(work)
        fast, slow = _partition(work)
        done: list[tuple[InboundEvent, list[dict[str, Any]]]] = []
        if fast:
            try:
                with transaction.atomic():
                    done = _set_based_apply(fast)
                result.set_based = len(fast)
            except Exception:  # rolled back: every event of the batch goes one by one instead
                log.exception("connectors.batch_set_based_failed", schema=db.schema_name, events=len(fast))
                done, slow, result.fell_back = [], work, True
        for item in slow:
            with trace_restored():
                records = _one_apply(item)
            if records is None:
                result.failed += 1
            else:
                done.append((item.event, records))
        _finish(done)
        result.processed = len(done)
    return result


def _set_status(work: list[_Work], status: str, **fields: Any) -> int:
    return InboundEvent.objects.filter(pk__in=[item.event.pk for item in work]).update(status=status, **fields)


def _without_paused(work: list[_Work]) -> tuple[list[_Work], int]:
    """A connection paused since the claim: its events go back to `received` (resuming sweeps them)."""
    ids = {item.event.connection_id for item in work}
    paused = set(Connection.objects.filter(pk__in=ids, status=Connection.Status.PAUSED).values_list("pk", flat=True))
    if not paused:
        return work, 0
    back = [item for item in work if item.event.connection_id in paused]
    _set_status(back, InboundEvent.Status.RECEIVED)
    return [item for item in work if item.event.connection_id not in paused], len(back)


def _locks_take(work: list[_Work]) -> None:
    """The per-order advisory locks `event_process` takes, all of them, in sorted order (so two
    batches, or a batch and a single event, never wait for each other in a cycle)."""
    keys = sorted({_lock_key(item.event.connection_id, item.event.external_id) for item in work})
    with db.cursor() as cursor:
        cursor.execute("SELECT count(pg_advisory_xact_lock(key)) FROM unnest(%s::bigint[]) AS key", [keys])


def _fast_candidate(item: _Work) -> CanonicalOrder | None:
    if item.error is not None or len(item.documents) != 1 or type(item.documents[0]) is not CanonicalOrder:
        return None
    document = item.documents[0]
    if document.external_id != item.event.external_id or document.cancelled_at is not None:
        return None  # its lock key would not be the order's; a cancellation posts a second entry
    return document


def _partition(work: list[_Work]) -> tuple[list[_Work], list[_Work]]:
    """New orders whose event is the first about them in the batch go set-based; the rest one by
    one, in the order received, after them. Stored orders are read in one query."""
    candidates = {item.event.pk: document for item in work if (document := _fast_candidate(item)) is not None}
    stored = set()
    if candidates:
        stored = set(
            Order.objects.filter(
                source__in={item.event.connection.vendor for item in work},
                source_connection_id__in={item.event.connection_id for item in work},
                external_id__in={document.external_id for document in candidates.values()},
            ).values_list("source", "source_connection_id", "external_id")
        )
    fast, slow, seen = [], [], set()
    for item in work:
        key = (item.event.connection.vendor, item.event.connection_id, item.event.external_id)
        document = candidates.get(item.event.pk)
        first = key not in seen
        seen.add(key)
        if document is None or not first or key in stored:
            slow.append(item)
            continue
        try:
            item.prepared = order_document_prepare(document)
        except PERMANENT:  # invalid: the per-event path fails it with the same error, classified
            slow.append(item)
            continue
        fast.append(item)
    return fast, slow


def _set_based_apply(fast: list[_Work]) -> list[tuple[InboundEvent, list[dict[str, Any]]]]:
    items = [
        NewOrder(source=item.event.connection.vendor, connection_id=item.event.connection_id, document=item.prepared)
        for item in fast
    ]
    orders = orders_create_bulk(items=items)
    outcomes = journals_post_orders([(order, item.prepared) for order, item in zip(orders, fast, strict=True)])
    done = []
    for item, order, outcome in zip(fast, orders, outcomes, strict=True):
        record = {"type": "order", "external_id": order.external_id, "id": order.pk, **_posted(outcome)}
        record["outcome"] = "created"
        done.append((item.event, [record]))
    return done


def _one_apply(item: _Work) -> list[dict[str, Any]] | None:
    """One event in its own savepoint, as `event_process` applies it; None when it failed (the
    failure is recorded on the event, retried or dead-lettered)."""
    event = item.event
    trace_bind(event.trace_id)
    stage = [f"Normalising {event.topic}"]
    try:
        with transaction.atomic():
            if isinstance(item.error, DependencyMissing):
                item = _read(event)  # what it waited for may be an event earlier in this batch
            if item.error is not None:
                raise item.error
            records = []
            for document in item.documents:
                kind = type(document).__name__.removeprefix("Canonical").lower()
                stage[0] = f"Storing and posting {kind} {_doc_id(document)}"
                records.append(_document_apply(connection=event.connection, document=document))
    except PERMANENT as error:
        _failed(event, error, permanent=True, stage=stage[0])
        return None
    except TRANSIENT as error:
        _failed(event, error, permanent=False, stage=stage[0])
        return None
    except Exception as error:  # any other type: never leave the event `received` (DESIGN.md §4)
        log.exception("connectors.event_unexpected_error", event_id=event.pk, topic=event.topic)
        _failed(event, error, permanent=False, stage=stage[0])
        return None
    return records


def _failed(event: InboundEvent, error: BaseException, *, permanent: bool, stage: str) -> None:
    event.attempts += 1
    _event_fail(event=event, error=error, permanent=permanent, stage=stage)


def _finish(done: list[tuple[InboundEvent, list[dict[str, Any]]]]) -> None:
    """Mark the applied events processed (or ignored: nothing to apply) in one UPDATE; resolve the
    exceptions of those that had failed before; count them once committed."""
    now = timezone.now()
    recovered = []
    for event, records in done:
        if event.attempts > 0 or event.last_error:
            recovered.append(event)
        event.attempts += 1
        event_processed_set(event, records, now=now, event_trace=event.trace_id)
    InboundEvent.objects.bulk_update([event for event, _ in done], _DONE_FIELDS)
    if recovered:
        exception_resolve_for_objects(objects=recovered, reason="Processed")
