"""Journal entries as they are written: a draft's lines, a reversal, the difference a new version
of a document posts, and what an order still has outstanding. No policy and no triage here: the
posting services (posting.services) decide what to post and call these to write it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import models, transaction

from commerce.models import Order
from core import metrics
from core.context import trace_id_current
from mappings.models import PostingRole
from posting.builders import Draft, PostingRefused, Problem, RoleLine
from posting.erp.tasks import erp_push_dispatch
from posting.models import JournalEntry, JournalLine, PostingBatch
from posting.periods import open_date
from tenants.usage import usage_count


def order_sources(order: Order) -> list[dict]:
    return [{"type": "order", "id": order.pk, "external_id": order.external_id, "raw_event_id": order.raw_event_id}]


def cancellation_key(order: Order) -> str:
    return f"order:{order.pk}:cancel"


def order_entry(order: Order) -> JournalEntry | None:
    """The order's latest entry (its first posting, or the latest version's difference); None
    while the order is not posted. A version that changed nothing has no entry of its own."""
    return (
        JournalEntry.objects.filter(source_key__startswith=f"order:{order.pk}:v")
        .exclude(source_key__endswith=":superseded")
        .order_by("-pk")
        .first()
    )


def _open_batch(entry: JournalEntry) -> PostingBatch | None:
    """The entry's batch while it is open: a reversal joins it, so the summary nets them out."""
    return entry.batch if entry.batch is not None and entry.batch.status == PostingBatch.Status.OPEN else None


def entry_create(
    *,
    source_key: str,
    date: dt.date,
    currency: str,
    memo: str,
    batch: PostingBatch | None,
    reverses: JournalEntry | None = None,
    metered: bool = True,
) -> JournalEntry:
    """The entry row alone, dated in an open period: a draft while in an open batch, else ready
    (and metered for billing, unless `metered` is False)."""
    date, memo = open_date(date, memo[:255])  # never into a closed period
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=currency,
        memo=memo,
        reverses=reverses,
        batch=batch,
        status=JournalEntry.Status.DRAFT if batch is not None else JournalEntry.Status.READY,
        trace_id=trace_id_current(),
    )
    if metered and batch is None:  # a batch's drafts are metered once, as its summary
        usage_count(metric="journals_posted")
    if batch is None:  # a batch's drafts are pushed as its summary, when the batch closes
        erp_push_dispatch(entry_id=entry.pk)  # sent once this transaction commits
        transaction.on_commit(lambda: metrics.journal_posted(source_key=entry.source_key))
    return entry


def entry_write(
    *,
    source_key: str,
    date: dt.date,
    draft: Draft,
    accounts: list[tuple[RoleLine, int]],
    sources: list[dict],
    batch: PostingBatch | None = None,
) -> JournalEntry:
    debit, credit = draft.totals()
    if debit != credit:  # builders already refuse this; the trigger is the last line of defence
        raise PostingRefused([Problem("unbalanced", f"Debits {debit} and credits {credit} differ.")])
    entry = entry_create(source_key=source_key, date=date, currency=draft.currency, memo=draft.memo, batch=batch)
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=entry,
            position=position,
            account_id=account_id,
            role=line.role,
            debit=line.debit,
            credit=line.credit,
            dimensions=line.conditions_dict,
            description=line.description[:255],
            sources=sources,
        )
        for position, (line, account_id) in enumerate(accounts)
    )
    return entry


def reversal_write(*, entry: JournalEntry, source_key: str, date: dt.date, memo: str) -> JournalEntry:
    """The exact mirror of `entry`, line by line."""
    reversal = entry_create(
        source_key=source_key, date=date, currency=entry.currency, memo=memo, batch=_open_batch(entry), reverses=entry
    )
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=reversal,
            position=line.position,
            account_id=line.account_id,
            role=line.role,
            debit=line.credit,
            credit=line.debit,
            dimensions=line.dimensions,
            description=f"Reversal: {line.description}"[:255],
            sources=line.sources,
        )
        for line in entry.lines.all()
    )
    return reversal


def _dimension_key(dimensions: dict) -> tuple:
    return tuple(sorted((str(key), str(value)) for key, value in (dimensions or {}).items()))


def posted_net(prefix: str) -> dict[tuple, tuple[Decimal, str]]:
    """What every entry posted so far for one document (all its versions, and the supersession
    reversals of the old rule) nets to per (account, role, dimensions): (debit minus credit,
    the first description)."""
    net: dict[tuple, tuple[Decimal, str]] = {}
    lines = JournalLine.objects.filter(entry__source_key__startswith=prefix).order_by("entry_id", "position")
    for line in lines:
        key = (line.account_id, line.role, _dimension_key(line.dimensions))
        amount, description = net.get(key, (Decimal(0), line.description))
        net[key] = (amount + line.debit - line.credit, description)
    return net


def net_difference(
    accounts: list[tuple[RoleLine, int]], posted: dict[tuple, tuple[Decimal, str]]
) -> list[tuple[RoleLine, int]] | None:
    """The lines that turn what was posted into what the new version posts: per account, role and
    dimensions, the new net less the posted net. None when the new version changes nothing."""
    wanted: dict[tuple, tuple[Decimal, RoleLine]] = {}
    for line, account_id in accounts:
        key = (account_id, line.role, _dimension_key(line.conditions_dict))
        amount, first = wanted.get(key, (Decimal(0), line))
        wanted[key] = (amount + line.debit - line.credit, first)
    keys = list(wanted) + [key for key in posted if key not in wanted]
    lines: list[tuple[RoleLine, int]] = []
    for key in keys:
        new_amount, first = wanted.get(key, (Decimal(0), None))
        old_amount, old_description = posted.get(key, (Decimal(0), ""))
        change = new_amount - old_amount
        if change == 0:
            continue
        account_id, role, dimensions = key
        description = first.description if first is not None else old_description
        lines.append(
            (
                RoleLine(
                    role=role,
                    debit=change if change > 0 else Decimal(0),
                    credit=-change if change < 0 else Decimal(0),
                    conditions=dimensions,
                    description=description,
                ),
                account_id,
            )
        )
    return lines or None


def _order_entries(order: Order) -> models.QuerySet[JournalEntry]:
    """Every entry posted for the order and its refunds: versions, their supersession reversals
    and refunds (not the cancellation). Their lines net to what is still outstanding."""
    keys = models.Q(source_key__startswith=f"order:{order.pk}:v")
    for pk in order.refunds.values_list("pk", flat=True):
        keys |= models.Q(source_key__startswith=f"refund:{pk}:v")
    return JournalEntry.objects.filter(keys)


def _outstanding(order: Order) -> list[tuple[JournalLine, Decimal]]:
    """What the order's entries net to, per account, role and dimensions, as (first line of the
    key, debit minus credit). A refund's debit to `refunds` counts against the revenue it mirrors
    (same dimensions), so a later cancellation reverses only the revenue no refund took back."""
    lines = list(JournalLine.objects.filter(entry__in=_order_entries(order)).order_by("entry__pk", "position"))
    revenue = {}
    for line in lines:
        if line.role == PostingRole.REVENUE:
            revenue.setdefault(tuple(sorted(line.dimensions.items())), line)
    net: dict[tuple, Decimal] = {}
    first: dict[tuple, JournalLine] = {}
    for line in lines:
        dims = tuple(sorted(line.dimensions.items()))
        mirrored = revenue.get(dims) if line.role == PostingRole.REFUNDS else None
        owner = mirrored or line
        key = (owner.account_id, owner.role, dims)
        first.setdefault(key, owner)
        net[key] = net.get(key, Decimal(0)) + line.debit - line.credit
    return [(first[key], amount) for key, amount in net.items() if amount != 0]


def outstanding_reverse(
    *, order: Order, original: JournalEntry, source_key: str, date: dt.date, memo: str
) -> JournalEntry | None:
    """Reverse what the order's entries (and its refunds') still net to; None when nothing is left."""
    outstanding = _outstanding(order)
    if not outstanding:
        return None  # refunds already took everything back
    debit = sum((-amount for _line, amount in outstanding if amount < 0), Decimal(0))
    credit = sum((amount for _line, amount in outstanding if amount > 0), Decimal(0))
    if debit != credit:  # every entry netted balances, so this is a corrupted ledger, never fudged
        raise PostingRefused([Problem("unbalanced", f"Outstanding debits {debit} and credits {credit} differ.")])
    entry = entry_create(
        source_key=source_key,
        date=date,
        currency=original.currency,
        memo=f"{memo} (what is still outstanding)",
        batch=_open_batch(original),
        reverses=original,
        metered=False,
    )
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=entry,
            position=position,
            account_id=line.account_id,
            role=line.role,
            debit=-amount if amount < 0 else Decimal(0),
            credit=amount if amount > 0 else Decimal(0),
            dimensions=line.dimensions,
            description=f"Cancellation: {line.description}"[:255],
            sources=order_sources(order),
        )
        for position, (line, amount) in enumerate(outstanding)
    )
    return entry
