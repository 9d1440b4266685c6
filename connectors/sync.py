"""Polling sync: a SyncRun walks each of the adapter's poll topics page by page.

One task invocation = one page, in one transaction: fetch the page, store its records as inbound
events (deduplicated by payload hash), process them through the same pipeline as webhooks, save
the counts and the cursor. A worker killed mid-page rolls the page back and the run resumes from
the last saved cursor; nothing is lost or applied twice.

Fairness (the noisy-neighbour problem): each step takes one of the tenant's
CONNECTOR_TENANT_SYNC_CONCURRENCY slots in Redis, or re-queues itself a few seconds later;
backfills run on their own queue (CONNECTOR_BACKFILL_QUEUE) served by their own worker; and every
page is its own task, so a 10,000-order backfill yields between pages and never holds a worker
that live webhook processing (default queue) needs.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_redis import get_redis_connection

from connectors.inbox import event_process, record_store
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.services import connection_status_set
from connectors.vendors import adapters
from connectors.vendors.base import NormaliseError
from core import metrics
from core.http.client import AuthFailed, ConnectorError
from core.tasks import task_named
from tenants.selectors import tenant_current_suspended
from tenants.usage import usage_count
from tenants.webhooks import tenant_event_emit
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

STALLED_AFTER = dt.timedelta(minutes=5)
SLOT_TTL_SECONDS = 600
SLOT_RETRY_SECONDS = 3
ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def _queue_for(run: SyncRun) -> str | None:
    return settings.CONNECTOR_BACKFILL_QUEUE if run.kind == SyncRun.Kind.BACKFILL else None


def _dispatch(run_id: int, *, queue: str | None, step: int, countdown: float = 0) -> None:
    """Send step `step` of the run. A copy of a step already done finds the run moved on and stops,
    so a resumed run never grows a second chain of steps."""
    task = task_named("connectors.sync_run_step")
    try:
        options = {"kwargs": {"run_id": run_id, "step": step}, "countdown": countdown, "retry": False}
        if queue:
            options["queue"] = queue
        task.apply_async(**options)
    except Exception:  # broker down: the stalled-run sweep sends it again
        log.warning("connectors.sync_dispatch_failed", run_id=run_id, exc_info=True)


def pollable(connection: Connection) -> bool:
    adapter = adapters().get(connection.vendor)
    return adapter is not None and bool(adapter.poll_topics_for(connection))


@transaction.atomic
def sync_run_start(
    *, connection: Connection, kind: str = SyncRun.Kind.MANUAL, since: dt.datetime | None = None
) -> SyncRun:
    """Queue a run (one per connection at a time: an active run is returned instead)."""
    if kind == SyncRun.Kind.BACKFILL and since is None:
        raise ValidationError({"since": ["A backfill needs a start date."]})
    adapter = adapters().get(connection.vendor)
    if adapter is None or not adapter.poll_topics_for(connection):
        raise ValidationError({"connection": [f"{connection.get_vendor_display()} connections are not polled."]})
    connection = Connection.objects.select_for_update().get(pk=connection.pk)
    active = connection.sync_runs.filter(status__in=ACTIVE).first()
    if active is not None:
        return active
    topics = list(adapter.poll_topics_for(connection))
    if kind == SyncRun.Kind.BACKFILL:
        cursor = {"topic_index": 0, "topic": {}}
    else:
        cursor = {"topic_index": 0, "topic": dict(connection.cursor.get(topics[0], {}))}
    run = SyncRun.objects.create(connection=connection, kind=kind, since=since, topics=topics, cursor=cursor)
    usage_count(metric="sync_runs")
    connection.next_sync_at = timezone.now() + dt.timedelta(minutes=connection.sync_interval_minutes)
    connection.save(update_fields=["next_sync_at"])
    transaction.on_commit(lambda: _dispatch(run.pk, queue=_queue_for(run), step=0))
    return run


def _step_number(run: SyncRun) -> int:
    return int(run.cursor.get("step", 0))


@transaction.atomic
def sync_run_cancel(*, run: SyncRun) -> SyncRun:
    run = SyncRun.objects.select_for_update().get(pk=run.pk)
    if not run.is_finished:
        run.status = SyncRun.Status.CANCELLED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
    return run


class _Slot:
    """One of the tenant's concurrent sync slots (a Redis sorted set of holders with expiry)."""

    def __init__(self) -> None:
        self.key = f"tb:sync-slots:{db.schema_name}"
        self.holder = uuid.uuid4().hex
        self.redis = get_redis_connection("default")

    def acquire(self) -> bool:
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(self.key, 0, now - SLOT_TTL_SECONDS)
        pipe.zadd(self.key, {self.holder: now})
        pipe.zrank(self.key, self.holder)
        pipe.expire(self.key, SLOT_TTL_SECONDS)
        _, _, rank, _ = pipe.execute()
        if rank is not None and rank < settings.CONNECTOR_TENANT_SYNC_CONCURRENCY:
            return True
        self.redis.zrem(self.key, self.holder)
        return False

    def release(self) -> None:
        self.redis.zrem(self.key, self.holder)


def sync_run_step(*, run_id: int, step: int | None = None) -> SyncRun | None:
    """Run one page of the run (the task's one call). Safe to call twice: a locked run is skipped,
    and a step number that is not the run's current one is a stale copy and does nothing. A
    suspended tenant's run does nothing either: it stays where it is and the stalled-run sweep
    sends it again once the tenant is resumed."""
    if tenant_current_suspended():
        return SyncRun.objects.filter(pk=run_id).first()
    slot = _Slot()
    if not slot.acquire():
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is not None and not run.is_finished:
            _dispatch(run_id, queue=_queue_for(run), step=_step_number(run), countdown=SLOT_RETRY_SECONDS)
        return run
    try:
        return _step(run_id, step)
    finally:
        slot.release()


def _step(run_id: int, step: int | None) -> SyncRun | None:
    with transaction.atomic():
        run = SyncRun.objects.select_for_update(skip_locked=True).select_related("connection").filter(pk=run_id).first()
        if run is None or run.is_finished:
            return run
        if step is not None and step != _step_number(run):
            return run
        connection = run.connection
        if connection.status != Connection.Status.ACTIVE:
            run.status = SyncRun.Status.CANCELLED
            run.error = f"The connection is {connection.get_status_display().lower()}."
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            return run
        now = timezone.now()
        if run.status == SyncRun.Status.QUEUED:
            run.status = SyncRun.Status.RUNNING
            run.started_at = now
        run.heartbeat_at = now
        adapter = adapters()[connection.vendor]
        topics = run.topics or list(adapter.poll_topics_for(connection))
        index = int(run.cursor.get("topic_index", 0))
        topic = topics[index]
        try:
            with transaction.atomic(), adapter.client(connection) as client:
                page = adapter.fetch_page(
                    connection=connection,
                    client=client,
                    topic=topic,
                    cursor=run.cursor.get("topic", {}),
                    since=run.since,
                )
                _page_store(run=run, connection=connection, records=page.records)
        except (ConnectorError, NormaliseError) as error:
            return _run_fail(run=run, connection=connection, error=error)
        run.pages += 1
        next_step = _step_number(run) + 1
        if not page.done:
            run.cursor = {"topic_index": index, "topic": page.cursor, "step": next_step}
        else:
            if run.kind != SyncRun.Kind.BACKFILL:
                Connection.objects.filter(pk=connection.pk).update(
                    cursor={**Connection.objects.get(pk=connection.pk).cursor, topic: page.cursor}
                )
            if index + 1 < len(topics):
                next_topic = topics[index + 1]
                start = {} if run.kind == SyncRun.Kind.BACKFILL else dict(connection.cursor.get(next_topic, {}))
                run.cursor = {"topic_index": index + 1, "topic": start, "step": next_step}
            else:
                run.status = SyncRun.Status.SUCCEEDED
                run.finished_at = timezone.now()
        run.save()
        if run.status == SyncRun.Status.SUCCEEDED:
            Connection.objects.filter(pk=connection.pk).update(
                last_success_at=run.finished_at,
                last_message=f"Synced {run.records} records in {run.pages} pages.",
            )
            exception_resolve_for_object(obj=connection, reason="Sync succeeded")
            metrics.sync_run_finished(vendor=connection.vendor, status=run.status, started_at=run.started_at)
        else:
            transaction.on_commit(lambda: _dispatch(run.pk, queue=_queue_for(run), step=next_step))
        return run


def _page_store(*, run: SyncRun, connection: Connection, records) -> None:
    for record in records:
        run.records += 1
        event, created = record_store(
            connection=connection, record=record, source=InboundEvent.Source.POLL, sync_run_id=run.pk, dispatch=False
        )
        if not created and event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED):
            run.skipped += 1
            continue
        processed = event_process(event_id=event.pk)
        if processed is None or processed.status not in (InboundEvent.Status.PROCESSED, InboundEvent.Status.IGNORED):
            run.failed += 1
            continue
        outcomes = [document.get("outcome") for document in processed.result.get("documents", [])]
        if "created" in outcomes:
            run.created += 1
        elif "updated" in outcomes:
            run.updated += 1
        else:
            run.skipped += 1


def _run_fail(*, run: SyncRun, connection: Connection, error: Exception) -> SyncRun:
    message = error.message if isinstance(error, ConnectorError) else str(error)
    cause = getattr(error, "cause", "sync_failed")
    run.status = SyncRun.Status.FAILED
    run.error = message[:2000]
    run.finished_at = timezone.now()
    run.save()
    Connection.objects.filter(pk=connection.pk).update(last_failure_at=run.finished_at, last_message=message[:500])
    metrics.sync_run_finished(vendor=connection.vendor, status=run.status, started_at=run.started_at)
    if isinstance(error, AuthFailed):
        connection_status_set(connection=connection, status=Connection.Status.ERROR, message=message)
    exception_raise(
        kind="sync",
        cause=cause if isinstance(error, ConnectorError) else "normalise",
        obj=connection,
        title=f"{connection.name}: sync failed ({cause.replace('_', ' ')})",
        detail=message,
        context={"run_id": run.pk, "pages": run.pages, "cursor": run.cursor},
        retry=RetryAction("connectors.sync", {"connection_id": connection.pk}),
        tags=("connectors", cause if isinstance(error, ConnectorError) else "normalise"),
    )
    tenant_event_emit(
        event="sync.failed",
        payload={
            "connection": {"id": connection.pk, "vendor": connection.vendor, "name": connection.name},
            "sync_run": {"id": run.pk, "kind": run.kind, "pages": run.pages, "records": run.records},
            "cause": cause,
            "message": message[:500],
        },
    )
    return run


def sync_runs_start_due(*, now: dt.datetime | None = None) -> list[SyncRun]:
    """Start an incremental run for every active, pollable connection whose interval is up
    (none while the tenant is suspended)."""
    if tenant_current_suspended():
        return []
    now = now or timezone.now()
    due = Connection.objects.filter(status=Connection.Status.ACTIVE, direction=Connection.Direction.SOURCE).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    runs = []
    for connection in due:
        # Simulated demo connections get their traffic from connectors.simulator, never a poll.
        if pollable(connection) and connection.has_credentials and not connection.config.get("simulated"):
            runs.append(sync_run_start(connection=connection, kind=SyncRun.Kind.INCREMENTAL))
    return runs


def sync_runs_resume_stalled(*, now: dt.datetime | None = None) -> int:
    """Send again runs whose worker died (no heartbeat for 5 minutes): they resume from their cursor.
    Nothing is sent while the tenant is suspended."""
    if tenant_current_suspended():
        return 0
    cutoff = (now or timezone.now()) - STALLED_AFTER
    stalled = SyncRun.objects.filter(status__in=ACTIVE).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, queued_at__lt=cutoff)
    )
    count = 0
    for run in stalled:
        _dispatch(run.pk, queue=_queue_for(run), step=_step_number(run))
        count += 1
    return count
