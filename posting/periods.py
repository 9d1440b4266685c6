"""Period close for the built-in ledger (DESIGN.md §4): a tenant admin closes the ledger through a
month end; from then on no entry is dated in a closed period. The posting services call
`open_date` for every entry they write (orders, refunds, payouts, reversals, cancellations, batch
summaries): a date in a closed period moves to the first open date, with a memo saying so. Closing
and reopening are audited."""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from posting.models import PeriodClose
from tenants.audit import audit_record
from tenants.models import User


def period_close_get() -> PeriodClose:
    return PeriodClose.stored()


def closed_through_for_posting() -> dt.date | None:
    """The closed-through date, read under a share lock held to the end of the caller's
    transaction, so a close cannot commit between this read and the entry's write."""
    period = period_close_get()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT closed_through FROM {PeriodClose._meta.db_table} WHERE id = %s FOR SHARE", [period.pk])
        row = cursor.fetchone()
    return row[0] if row else None


def open_date(date: dt.date, memo: str) -> tuple[dt.date, str]:
    """`date` and `memo` as they may be written: unchanged in an open period, else the first open
    date and the memo noting where the entry belonged."""
    return open_date_after(closed_through_for_posting(), date, memo)


def open_date_after(closed: dt.date | None, date: dt.date, memo: str) -> tuple[dt.date, str]:
    """`open_date` with the closed-through date already read (a batch reads it once)."""
    if closed is None or date > closed:
        return date, memo
    note = f"(originally dated {date.isoformat()}; period closed through {closed.isoformat()})"
    return closed + dt.timedelta(days=1), f"{memo[: 254 - len(note)]} {note}".strip()


def first_open_date() -> dt.date | None:
    closed = period_close_get().closed_through
    return closed + dt.timedelta(days=1) if closed else None


def _month_end(day: dt.date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _closed_through_move(
    period: PeriodClose, through: dt.date | None, *, action: str, actor: User | None, actor_label: str | None
) -> PeriodClose:
    """Move the ledger's close to `through`, recorded in the audit trail (before and after)."""
    before = period.closed_through
    period.closed_through = through
    period.save()
    tenant = connection.tenant
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action=f"ledger.{action}",
        target=period,
        tenant=tenant,
        partner=tenant.partner,
        changes={"closed_through": [_iso(before), _iso(through)]},
    )
    return period


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@transaction.atomic
def period_close(*, through: dt.date, actor: User | None, actor_label: str | None = None) -> PeriodClose:
    """Close every period up to and including `through` (a month end, today at the latest)."""
    period = PeriodClose.locked()
    if not _month_end(through):
        raise ValidationError({"closed_through": "Close through the last day of a month."})
    if through > timezone.localdate(timezone=_zone()):
        raise ValidationError({"closed_through": "A period that has not ended yet cannot be closed."})
    before = period.closed_through
    if before is not None and through <= before:
        raise ValidationError(
            {"closed_through": f"The ledger is already closed through {before.isoformat()}; reopen to move it back."}
        )
    return _closed_through_move(period, through, action="period_closed", actor=actor, actor_label=actor_label)


@transaction.atomic
def period_reopen(*, through: dt.date | None, actor: User | None, actor_label: str | None = None) -> PeriodClose:
    """Reopen periods: the ledger stays closed through `through` (an earlier month end), or through
    nothing when `through` is None. Entries already moved stay where they were posted."""
    period = PeriodClose.locked()
    before = period.closed_through
    if before is None:
        raise ValidationError({"closed_through": "No period is closed."})
    if through is not None and (not _month_end(through) or through >= before):
        raise ValidationError(
            {"closed_through": f"Reopen to an earlier month end than {before.isoformat()}, or to none."}
        )
    return _closed_through_move(period, through, action="period_reopened", actor=actor, actor_label=actor_label)


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC")
