"""The push pipeline: journals in the built-in ledger → the tenant's ERP target, acknowledged with
the ERP's id. Every push is idempotent twice over: locally (one `ErpPush` per entry and target,
an acknowledged push is never repeated) and in the ERP (the adapter looks the entry's reference
up before creating, so a push whose answer was lost is found, not duplicated).

Network calls happen outside database transactions: the push row is marked `pushing` and
committed first, so a crash mid-call leaves a row the next sweep picks up again.

One push of an entry to a target at a time: every push, forced re-pushes included, holds a
PostgreSQL advisory lock for (schema, target, entry) from its claim to its recorded outcome, and
checks the push's state again once it holds it. A normal push that finds the lock taken skips;
a forced one waits for it, so two "Re-push" clicks send the journal once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import structlog
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core import metrics
from core.tenancy import tenant_zone
from mappings.models import ValueMap
from mappings.selectors import mapping_set_at
from posting.erp import connections
from posting.erp.base import ErpAdapter, ErpError, ErpJournal, ErpLine, ErrorKind, PushResult
from posting.erp.models import ErpPush, ErpTarget
from posting.models import JournalEntry
from tenants.audit import audit_diff, audit_record_in_tenant
from tenants.models import User
from tenants.selectors import tenant_current_suspended
from tenants.usage import usage_count
from tenants.webhooks import tenant_event_emit
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

RETRY_NAME = "posting.erp_push"
MAX_AUTOMATIC_ATTEMPTS = 5
STALE_PUSHING = dt.timedelta(minutes=10)
# How long a forced re-push waits for a push of the same entry that is under way.
FORCED_PUSH_LOCK_WAIT_SECONDS = 120.0
SEVERITY = {
    ErrorKind.RECONNECT: "high",
    ErrorKind.CLOSED_PERIOD: "high",
    ErrorKind.UNKNOWN_ACCOUNT: "high",
    ErrorKind.VALIDATION: "normal",
}
# Failures that say the ERP could not be reached or would not let us in (not that it refused the
# entry's content): they start the target's `unreachable_since`.
UNREACHABLE = {
    ErrorKind.UNAVAILABLE,
    ErrorKind.TIMEOUT,
    ErrorKind.BAD_RESPONSE,
    ErrorKind.AUTH_EXPIRED,
    ErrorKind.RECONNECT,
}


def journal_reference(entry: JournalEntry) -> str:
    """Short enough for every ERP's reference field (QuickBooks' DocNumber holds 21 characters)."""
    return f"TB-{entry.pk}"


def erp_target_get() -> ErpTarget:
    return ErpTarget.stored("connection")


@transaction.atomic
def erp_target_set(
    *,
    connection=None,
    since: dt.date | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> ErpTarget:
    """Point the tenant at an ERP connection (or back at the built-in ledger). Nothing posted is
    lost or re-sent: journals dated before `since` (default today) keep their acknowledgements."""
    if connection is not None:
        connections.erp_connection_check(connection)
    target = ErpTarget.objects.select_for_update().get(pk=erp_target_get().pk)
    before = {"connection": _target_name(target), "since": target.since}
    target.connection = connection
    target.since = since or timezone.localdate()
    target.unreachable_since = None  # a new target has not failed yet
    target.save()
    changes = audit_diff(before, {"connection": _target_name(target), "since": target.since})
    if changes:
        audit_record_in_tenant(
            actor=actor, actor_label=actor_label, action="erp_target.switch", target=target, changes=changes
        )
    return target


def _target_name(target: ErpTarget) -> str:
    return f"{target.connection} #{target.connection_id}" if target.connection_id else "Built-in ledger"


def _dimensions(line, *, at: dt.datetime) -> dict[str, str]:
    """Our dimension values → ERP ones, through the mapping set's dimension value maps
    (`source_value` "store=NYC" → `erp_value` "class:5" or "Region:East")."""
    mapping_set = mapping_set_at(at=at)
    if mapping_set is None or not line.dimensions:
        return {}
    sources = [f"{key}={value}" for key, value in line.dimensions.items()]
    mapped: dict[str, str] = {}
    for row in ValueMap.objects.filter(mapping_set=mapping_set, kind=ValueMap.Kind.DIMENSION, source_value__in=sources):
        kind, _, value = row.erp_value.partition(":")
        if value:
            mapped[kind] = value
    return mapped


def _moved_memo(entry: JournalEntry, push: ErpPush | None) -> str:
    memo = entry.memo or entry.source_key
    if push is None or push.moved_to is None:
        return memo
    label = push.vendor if push.connection_id is None else str(push.connection)
    note = f"(originally dated {entry.date.isoformat()}; period closed in {label})"
    return f"{memo[: 254 - len(note)]} {note}"


def erp_journal_build(*, entry: JournalEntry, push: ErpPush | None = None) -> ErpJournal:
    """The journal as the ERP receives it; dated `push.moved_to` when the ERP refused its own
    date as a closed period (see `_push_locked`)."""
    at = dt.datetime.combine(entry.date, dt.time(12), tzinfo=dt.UTC)
    return ErpJournal(
        reference=journal_reference(entry),
        date=push.moved_to if push is not None and push.moved_to else entry.date,
        currency=entry.currency,
        memo=_moved_memo(entry, push),
        lines=[
            ErpLine(
                account_code=line.account.code,
                account_external_id=line.account.external_id,
                debit=line.debit,
                credit=line.credit,
                description=line.description,
                dimensions=_dimensions(line, at=at),
            )
            for line in entry.lines.select_related("account").order_by("position")
        ],
    )


@dataclass(frozen=True)
class PushOutcome:
    push: ErpPush | None
    skipped: str = ""  # why nothing was attempted


def _claim(*, entry: JournalEntry, target: ErpTarget, force: bool) -> ErpPush | str:
    with transaction.atomic():
        entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.status == JournalEntry.Status.DRAFT:
            return "the entry waits in an open batch"
        vendor = target.connection.vendor if target.connection_id else "builtin_ledger"
        push, _ = ErpPush.objects.select_for_update().get_or_create(
            entry=entry,
            target_key=target.key,
            defaults={"connection": target.connection, "vendor": vendor, "reference": journal_reference(entry)},
        )
        if push.status == ErpPush.Status.ACKED:
            return "already acknowledged"
        fresh = push.updated_at and timezone.now() - push.updated_at < STALE_PUSHING
        if push.status == ErpPush.Status.PUSHING and fresh and not force:
            return "another push is in progress"
        push.status = ErpPush.Status.PUSHING
        push.attempts += 1
        push.save(update_fields=["status", "attempts", "updated_at"])
        if entry.status != JournalEntry.Status.PUSHED:
            entry.status = JournalEntry.Status.PUSHED
            entry.save(update_fields=["status"])
        return push


def _original_push(entry: JournalEntry, target: ErpTarget) -> ErpPush | None:
    if entry.reverses_id is None:
        return None
    return ErpPush.objects.filter(
        entry_id=entry.reverses_id, target_key=target.key, status=ErpPush.Status.ACKED
    ).first()


def _mirrors(entry: JournalEntry, original: JournalEntry) -> bool:
    """Whether `entry` is the exact mirror of `original` (a cancellation after refunds or version
    changes reverses only what is outstanding: that is pushed as its own journal)."""

    def key(line, *, mirrored: bool) -> tuple:
        debit, credit = (line.credit, line.debit) if mirrored else (line.debit, line.credit)
        return (line.account_id, debit, credit, tuple(sorted(line.dimensions.items())))

    ours = sorted(key(line, mirrored=False) for line in entry.lines.all())
    theirs = sorted(key(line, mirrored=True) for line in original.lines.all())
    return ours == theirs


def _send(adapter: ErpAdapter, entry: JournalEntry, target: ErpTarget, push: ErpPush) -> PushResult:
    journal = erp_journal_build(entry=entry, push=push)
    original = _original_push(entry, target)
    if original is not None and _mirrors(entry, entry.reverses):
        return adapter.reverse(
            external_id=original.external_id,
            original=erp_journal_build(entry=entry.reverses, push=original),
            reference=journal.reference,
            date=journal.date,
        )
    return adapter.push(journal)


def _move_out_of_closed_period(*, push: ErpPush, entry: JournalEntry, target: ErpTarget) -> bool:
    """The ERP answered "period closed" (ErrorKind.CLOSED_PERIOD) for the entry's date: send it
    again dated the tenant-local day of that answer, with a memo naming the original date — the
    same move the built-in ledger makes (posting.periods), since an ERP does not say where its
    open period starts. Once per push; the built-in ledger keeps its own date."""
    if not target.connection_id or push.moved_to is not None:
        return False
    today = timezone.localdate(timezone=tenant_zone())
    if today <= entry.date:
        return False  # today's period is closed too: a person must reopen it in the ERP
    push.moved_to = today
    push.save(update_fields=["moved_to", "updated_at"])
    log.info("erp.push.moved", entry=entry.pk, vendor=push.vendor, original=str(entry.date), moved_to=str(today))
    return True


@contextmanager
def _push_lock(*, entry: JournalEntry, target: ErpTarget, wait: float) -> Iterator[bool]:
    """A session-level advisory lock (it outlives the claim's transaction and is held through the
    ERP call, which runs outside any transaction); yields whether it was obtained within `wait`."""
    key = f"tillbridge:erp-push:{db_connection.schema_name}:{target.key}:{entry.pk}"
    deadline = time.monotonic() + wait
    with db_connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
            held = bool(cursor.fetchone()[0])
            if held or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    try:
        yield held
    finally:
        if held:
            with db_connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def erp_push_entry(*, entry: JournalEntry, force: bool = False) -> PushOutcome:
    """Push one journal entry to the tenant's target and record the outcome (see module doc).
    A suspended tenant pushes nothing; the entry stays due and the sweep pushes it after resume."""
    if tenant_current_suspended():
        return PushOutcome(None, "the tenant is suspended")
    target = erp_target_get()
    if target.connection_id and target.since and entry.date < target.since:
        return PushOutcome(None, f"dated before the switch to {target.connection} on {target.since}")
    with _push_lock(entry=entry, target=target, wait=FORCED_PUSH_LOCK_WAIT_SECONDS if force else 0) as held:
        if not held:
            return PushOutcome(
                ErpPush.objects.filter(entry=entry, target_key=target.key).first(), "another push is in progress"
            )
        return _push_locked(entry=entry, target=target, force=force)


def _push_locked(*, entry: JournalEntry, target: ErpTarget, force: bool) -> PushOutcome:
    # The claim reads the push row again under the lock: a push that finished while this one
    # waited is "already acknowledged" here.
    claimed = _claim(entry=entry, target=target, force=force)
    if isinstance(claimed, str):
        return PushOutcome(ErpPush.objects.filter(entry=entry, target_key=target.key).first(), claimed)
    push = claimed
    try:
        with connections.adapter_for(target.connection) as adapter:
            try:
                result = _send(adapter, entry, target, push)
            except ErpError as error:
                if error.kind != ErrorKind.CLOSED_PERIOD or not _move_out_of_closed_period(
                    push=push, entry=entry, target=target
                ):
                    raise
                result = _send(adapter, entry, target, push)
    except ErpError as error:
        return PushOutcome(_failed(push=push, entry=entry, error=error))
    return PushOutcome(_acked(push=push, entry=entry, result=result))


@transaction.atomic
def _acked(*, push: ErpPush, entry: JournalEntry, result: PushResult) -> ErpPush:
    metrics.erp_push_answered(vendor=push.vendor, error="", claimed_at=push.updated_at)  # claimed: last save
    push.status = ErpPush.Status.ACKED
    push.external_id = result.external_id
    push.erp_number = result.number
    push.erp_state = result.state.value
    push.error_kind = push.error_message = ""
    push.acked_at = timezone.now()
    push.save()
    ErpTarget.objects.filter(unreachable_since__isnull=False).update(unreachable_since=None)
    usage_count(metric="erp_pushes")
    JournalEntry.objects.filter(pk=entry.pk).update(status=JournalEntry.Status.ACKED, external_ref=result.external_id)
    exception_resolve_for_object(obj=entry, reason=f"Acknowledged by {push.vendor} as {result.external_id}.")
    tenant_event_emit(
        event="journal.pushed",
        payload={
            "journal": {"id": entry.pk, "source_key": entry.source_key, "date": entry.date.isoformat()},
            "erp": {"vendor": push.vendor, "external_id": result.external_id, "number": result.number},
        },
    )
    log.info(
        "erp.push.acked", entry=entry.pk, vendor=push.vendor, external_id=result.external_id, created=result.created
    )
    return push


def _failed(*, push: ErpPush, entry: JournalEntry, error: ErpError) -> ErpPush:
    metrics.erp_push_answered(vendor=push.vendor, error=error.kind.value, claimed_at=push.updated_at)
    with transaction.atomic():
        push.status = ErpPush.Status.FAILED
        push.error_kind = error.kind.value
        push.error_message = error.message
        push.save()
        JournalEntry.objects.filter(pk=entry.pk).update(status=JournalEntry.Status.FAILED)
        if error.kind in UNREACHABLE:
            ErpTarget.objects.filter(unreachable_since__isnull=True).update(unreachable_since=timezone.now())
    label = push.vendor if push.connection_id is None else str(push.connection)
    if error.kind == ErrorKind.RECONNECT and push.connection_id:
        connections.erp_connection_needs_reconnect(push.connection, reason=error.message)
    cause = "reconnect_required" if error.kind == ErrorKind.RECONNECT else error.kind.value
    exception_raise(
        kind="erp_push",
        cause=cause,
        tags=("erp", cause),
        obj=entry,
        title=f"Journal {entry.source_key} was not accepted by {label}",
        detail=error.message,
        context={
            "vendor": push.vendor,
            "reference": push.reference,
            "attempts": push.attempts,
            "status_code": error.status_code,
            "erp_code": error.code,
        },
        severity=SEVERITY.get(error.kind, "normal"),
        retry=RetryAction(RETRY_NAME, {"entry_id": entry.pk}),
    )
    return push


def erp_push_retry(*, entry_id: int) -> PushOutcome:
    """The "Re-push" button and task: push again now, even if a push looks in progress."""
    return erp_push_entry(entry=JournalEntry.objects.get(pk=entry_id), force=True)


class ErpPushStillFailing(Exception):
    pass


def erp_push_retry_or_raise(*, entry_id: int) -> ErpPush:
    """The retry action of `erp_push` exceptions: triage counts a normal return as success, so a
    push that is still not acknowledged raises with the ERP's latest words."""
    outcome = erp_push_retry(entry_id=entry_id)
    push = outcome.push
    if push is None or push.status != ErpPush.Status.ACKED:
        reason = (push.error_message if push else "") or outcome.skipped or "not acknowledged"
        raise ErpPushStillFailing(reason)
    return push


def entries_due() -> QuerySet[JournalEntry]:
    """Entries the periodic sweep should push to the current target: ready ones, ones whose push
    was interrupted, and failures worth retrying automatically (rate limit, timeout, outage)."""
    target = erp_target_get()
    pushes = ErpPush.objects.filter(target_key=target.key)
    done = pushes.filter(status=ErpPush.Status.ACKED).values("entry_id")
    given_up = pushes.filter(
        Q(status=ErpPush.Status.FAILED)
        & (
            ~Q(
                error_kind__in=[
                    kind.value
                    for kind in (
                        ErrorKind.RATE_LIMITED,
                        ErrorKind.TIMEOUT,
                        ErrorKind.UNAVAILABLE,
                        ErrorKind.BAD_RESPONSE,
                    )
                ]
            )
            | Q(attempts__gte=MAX_AUTOMATIC_ATTEMPTS)
        )
    ).values("entry_id")
    in_flight = pushes.filter(status=ErpPush.Status.PUSHING, updated_at__gt=timezone.now() - STALE_PUSHING).values(
        "entry_id"
    )
    queryset = JournalEntry.objects.exclude(status=JournalEntry.Status.DRAFT).exclude(pk__in=done)
    queryset = queryset.exclude(pk__in=given_up).exclude(pk__in=in_flight)
    if target.connection_id and target.since:
        queryset = queryset.filter(date__gte=target.since)
    # Originals before their reversals, so a reversal can use the ERP's own reversal.
    return queryset.order_by("pk")
