"""Return mismatches as triage exceptions (issue 19, item 5), found by a per-tenant periodic job:

- a refund was issued but the goods are not back after `ReturnPolicy.refund_unreceived_days`
  (default 14): money went out for stock that may never return;
- the goods are back but nothing was refunded after `received_unrefunded_days` (default 7): the
  customer is owed money (and the ledger carries it as refunds owed).

Each exception names the return and carries the retry action `commerce.return_mismatch`: it
first links any refund of the order that gives back the return's lines (the usual cause: the
refund arrived from the channel after the return), then checks again; it succeeds only when the
mismatch is gone, which resolves the exception. A flagged return is raised again at most daily."""

from __future__ import annotations

import datetime as dt

from django.db.models import Min, Q
from django.utils import timezone

from commerce.models import Return
from commerce.returns import return_policy_get, return_refunds_match
from core.periodic import earliest, periodic_job
from triage.models import Kind, Severity
from triage.retry import RetryAction, retry_action
from triage.services import exception_raise, exception_resolve_for_object

S = Return.Status
NOT_BACK = (S.REQUESTED, S.APPROVED, S.IN_TRANSIT)
BACK_NOT_REFUNDED = (S.RECEIVED, S.INSPECTED)
RAISE_AGAIN_AFTER = dt.timedelta(days=1)


class StillMismatched(Exception):
    pass


def return_mismatch(*, ret: Return, now: dt.datetime | None = None) -> str | None:
    """The mismatch `ret` shows now ('refund_not_received' or 'received_not_refunded'), or None."""
    now = now or timezone.now()
    policy = return_policy_get()
    if ret.status in NOT_BACK:
        first_refund = ret.refunds.aggregate(at=Min("processed_at"))["at"]
        if first_refund is not None and first_refund <= now - dt.timedelta(days=policy.refund_unreceived_days):
            return "refund_not_received"
    received_due = now - dt.timedelta(days=policy.received_unrefunded_days)
    if ret.status in BACK_NOT_REFUNDED and ret.received_at is not None and ret.received_at <= received_due:
        return None if ret.refunds.exists() else "received_not_refunded"
    return None


def _raise(ret: Return, cause: str) -> None:
    policy = return_policy_get()
    if cause == "refund_not_received":
        title = f"Return {ret.name} was refunded but its goods are not back after {policy.refund_unreceived_days} days"
    else:
        title = f"Return {ret.name} was received but not refunded after {policy.received_unrefunded_days} days"
    exception_raise(
        kind=Kind.RECONCILIATION,
        cause=f"return_{cause}",
        title=title,
        obj=ret,
        detail=f"Order {ret.order.external_id}, {ret.get_status_display().lower()}, value {ret.value} {ret.currency}.",
        context={"return": ret.pk, "order": ret.order.external_id, "status": ret.status},
        severity=Severity.HIGH if cause == "received_not_refunded" else Severity.NORMAL,
        retry=RetryAction("commerce.return_mismatch", {"return_id": ret.pk}),
    )


def returns_check_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first return's mismatch becomes due to raise (or to raise again a day after it was
    flagged). A mismatch that clears does so by a write (a refund, a status), which marks the tenant."""
    rows = list(
        Return.objects.filter(Q(status__in=NOT_BACK) | Q(status__in=BACK_NOT_REFUNDED, received_at__isnull=False))
        .annotate(first_refund=Min("refunds__processed_at"))
        .values_list("status", "received_at", "first_refund", "mismatch_flagged_at")
    )
    if not rows:
        return None
    policy = return_policy_get()
    refund_wait = dt.timedelta(days=policy.refund_unreceived_days)
    receipt_wait = dt.timedelta(days=policy.received_unrefunded_days)
    times = []
    for status, received_at, first_refund, flagged_at in rows:
        if status in NOT_BACK and first_refund is not None:
            at = first_refund + refund_wait
        elif status in BACK_NOT_REFUNDED and first_refund is None:
            at = received_at + receipt_wait
        else:
            continue
        times.append(max(at, flagged_at + RAISE_AGAIN_AFTER) if flagged_at is not None else at)
    return earliest(*times)


@periodic_job("commerce.returns_mismatch_check", next_due=returns_check_next_due)
def returns_mismatch_check(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise each mismatched return (once a day while it lasts); resolve those that cleared."""
    now = now or timezone.now()
    policy = return_policy_get()
    refund_due = now - dt.timedelta(days=policy.refund_unreceived_days)
    receipt_due = now - dt.timedelta(days=policy.received_unrefunded_days)
    suspects = (
        Return.objects.select_related("order")
        .filter(
            Q(status__in=NOT_BACK, refunds__processed_at__lte=refund_due)
            | Q(status__in=BACK_NOT_REFUNDED, received_at__lte=receipt_due, refunds__isnull=True)
        )
        .filter(Q(mismatch_flagged_at__isnull=True) | Q(mismatch_flagged_at__lte=now - RAISE_AGAIN_AFTER))
        .distinct()
    )
    raised = 0
    for ret in suspects:
        if ret.status in BACK_NOT_REFUNDED:
            return_refunds_match(ret=ret)
        cause = return_mismatch(ret=ret, now=now)
        if cause is not None:
            _raise(ret, cause)
            Return.objects.filter(pk=ret.pk).update(mismatch_flagged_at=now)
            raised += 1
    resolved = 0
    for ret in Return.objects.filter(mismatch_flagged_at__isnull=False):
        if return_mismatch(ret=ret, now=now) is None:
            exception_resolve_for_object(obj=ret, reason=f"Return {ret.name} is now {ret.get_status_display()}.")
            Return.objects.filter(pk=ret.pk).update(mismatch_flagged_at=None)
            resolved += 1
    return {"raised": raised, "resolved": resolved}


@retry_action("commerce.return_mismatch")
def return_mismatch_retry(*, return_id: int) -> None:
    ret = Return.objects.select_related("order").get(pk=return_id)
    return_refunds_match(ret=ret)
    ret.refresh_from_db()
    cause = return_mismatch(ret=ret)
    if cause is not None:
        raise StillMismatched(f"Return {ret.name} still shows {cause.replace('_', ' ')}.")
    Return.objects.filter(pk=ret.pk).update(mismatch_flagged_at=None)
