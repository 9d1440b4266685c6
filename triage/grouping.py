"""How a raised failure joins its group (DESIGN.md §5): one `Exception` per fingerprint (kind +
cause + object type), one `Occurrence` per object behind it. A repeat bumps the counts and
last_seen, and a resolved or ignored group reopens. Used by `triage.services.exception_raise`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from triage.models import Exception as TriageException
from triage.models import Occurrence, Status
from triage.retry import RetryAction
from triage.sla import SEVERITY_RANK, sla_due


@dataclass(frozen=True)
class Failure:
    """One raise, as its caller described it (severity and fix class already defaulted)."""

    kind: str
    cause: str
    title: str
    detail: str
    context: dict
    severity: str
    fix_class: str
    tags: tuple[str, ...]
    retry: RetryAction | None
    payload: Any


def group_record(
    *, failure: Failure, object_type: str, plan: str, now: dt.datetime
) -> tuple[TriageException, str | None]:
    """Lock (or create) the failure's group and count this raise in it. Returns the group and what
    happened to it: "raised" (a new group), "reopened" (it was closed) or None (it was open)."""
    fingerprint = f"{failure.kind}:{failure.cause}:{object_type}"[:200]
    exception = TriageException.objects.select_for_update().filter(fingerprint=fingerprint).first()
    if exception is None:
        created = _group_create(failure=failure, object_type=object_type, fingerprint=fingerprint, plan=plan, now=now)
        if created is not None:
            return created, "raised"
        exception = TriageException.objects.select_for_update().get(fingerprint=fingerprint)
    reopened = _group_bump(exception, failure=failure, plan=plan, now=now)
    return exception, "reopened" if reopened else None


def _group_create(
    *, failure: Failure, object_type: str, fingerprint: str, plan: str, now: dt.datetime
) -> TriageException | None:
    # Two workers can both miss the group and both insert it (say, 50 orders failing on one
    # missing mapping in parallel): the second insert waits for the first to commit and then
    # hits the unique fingerprint, so it rolls back to the savepoint and joins the group.
    try:
        with transaction.atomic():
            return TriageException.objects.create(
                kind=failure.kind,
                cause=failure.cause,
                object_type=object_type,
                fingerprint=fingerprint,
                severity=failure.severity,
                fix_class=failure.fix_class,
                tags=sorted(set(failure.tags)),
                title=failure.title,
                detail=failure.detail,
                context=failure.context,
                first_seen=now,
                last_seen=now,
                count=1,
                sla_due=sla_due(plan=plan, severity=failure.severity, since=now),
                retry_name=failure.retry.name if failure.retry else "",
            )
    except IntegrityError:
        return None


def _group_bump(exception: TriageException, *, failure: Failure, plan: str, now: dt.datetime) -> bool:
    """Count a repeat in an existing group; a more severe repeat raises its severity (and SLA).
    Returns whether the group was closed and so reopened."""
    exception.count += 1
    exception.last_seen = now
    exception.title, exception.detail, exception.context = failure.title, failure.detail, failure.context
    exception.tags = sorted(set(exception.tags) | set(failure.tags))
    if failure.retry:
        exception.retry_name = failure.retry.name
    if SEVERITY_RANK[failure.severity] < SEVERITY_RANK[exception.severity]:
        exception.severity = failure.severity
        exception.sla_due = min(exception.sla_due, sla_due(plan=plan, severity=failure.severity, since=now))
    reopened = not exception.is_open
    if reopened:
        exception.status = Status.OPEN
        exception.resolved_at = None
        exception.resolution_reason = ""
        exception.sla_breached_at = None
        exception.sla_due = sla_due(plan=plan, severity=exception.severity, since=now)
    exception.save()
    return reopened


def occurrence_record(
    *,
    exception: TriageException,
    failure: Failure,
    content_type: ContentType | None,
    object_id: str,
    object_label: str,
    object_url: str,
    now: dt.datetime,
    money: tuple[Decimal, str] = (Decimal(0), ""),
) -> Occurrence:
    """The object's occurrence in the group: created, or bumped and reopened on a repeat. `money`
    is what the object holds back now (triage/money.py)."""
    occurrence, created = Occurrence.objects.select_for_update().get_or_create(
        exception=exception,
        content_type=content_type,
        object_id=object_id,
        defaults={
            "object_label": object_label,
            "object_url": object_url,
            "detail": failure.detail,
            "context": failure.context,
            "retry_args": failure.retry.args if failure.retry else {},
            "payload": failure.payload,
            "money_at_risk": money[0],
            "money_currency": money[1],
            "first_seen": now,
            "last_seen": now,
        },
    )
    if not created:
        occurrence.count += 1
        occurrence.last_seen = now
        occurrence.detail, occurrence.context = failure.detail, failure.context
        occurrence.resolved_at, occurrence.resolution_reason = None, ""
        occurrence.money_at_risk, occurrence.money_currency = money
        if failure.retry:
            occurrence.retry_args = failure.retry.args
        if failure.payload is not None:
            occurrence.payload = failure.payload
        occurrence.save()
    return occurrence
