"""Posting: canonical documents → balanced journal entries in the built-in ledger.

Every service is idempotent on the entry's `source_key` (`order:<pk>:v<version>`,
`refund:<pk>:v<version>`, `order:<pk>:cancel`, `payout:<pk>:v<version>`): running it again returns
the entry already posted. A document that cannot be posted (an unmapped role, amounts that do not
balance, a refund larger than what was posted) posts nothing and raises one problem per cause
through `posting_problem_raise`; the outcome carries the same problems for the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction

from commerce.models import Order, Payout, PayoutLine, Refund
from commerce.selectors import order_document, payout_document, refund_document, refunds_before
from mappings.models import PostingRole
from mappings.selectors import AccountResolver, Unmapped, account_resolver
from posting.builders import (
    Draft,
    Policy,
    PostingRefused,
    Problem,
    RoleLine,
    build_order,
    build_payout,
    build_refund,
)
from posting.errors import posting_problem_raise
from posting.models import JournalEntry, JournalLine, PostingBatch, PostingPolicy, Reconciliation
from posting.money import quantize
from posting.periods import open_date
from tenants.usage import usage_count
from triage.services import exception_resolve_for_object


class PostingStatus(enum.StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"
    NOT_DUE = "not_due"
    REFUSED = "refused"
    COVERED = "covered"  # nothing outstanding: an overlapping document already posted all of it
    UNCHANGED = "unchanged"  # a new version posting exactly what was posted for the document so far


@dataclass(frozen=True)
class PostingOutcome:
    status: PostingStatus
    entry: JournalEntry | None = None
    problems: list[Problem] = field(default_factory=list)


def policy_get() -> PostingPolicy:
    policy, _ = PostingPolicy.objects.get_or_create(singleton=1)
    return policy


POLICY_FIELDS = (
    "recognise_on",
    "discounts",
    "allocation",
    "mode",
    "batch_window",
    "cutoff_hour",
    "unallocated_refunds",
)


@transaction.atomic
def policy_update(**values: object) -> PostingPolicy:
    policy = PostingPolicy.objects.select_for_update().get(pk=policy_get().pk)
    for name, value in values.items():
        if name not in POLICY_FIELDS:
            raise ValidationError({name: "Not a posting policy setting."})
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    return policy


def _builder_policy(policy: PostingPolicy) -> Policy:
    return Policy(
        discounts=policy.discounts, allocation=policy.allocation, unallocated_refunds=policy.unallocated_refunds
    )


def tenant_zone() -> zoneinfo.ZoneInfo:
    name = getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC"
    return zoneinfo.ZoneInfo(name)


def _local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(tenant_zone()).date()


def _resolve(draft: Draft, resolver: AccountResolver) -> list[tuple[RoleLine, int]]:
    resolved = []
    problems = []
    for line in draft.lines:
        try:
            resolved.append((line, resolver.resolve(line.role, line.conditions_dict).pk))
        except Unmapped as error:
            problems.append(
                Problem("unmapped", str(error), role=error.role, conditions=tuple(error.conditions.items()))
            )
    if problems:
        raise PostingRefused(problems)
    return resolved


def _refuse(
    refused: PostingRefused, *, obj: models.Model, title: str, retry_name: str, retry_args: dict
) -> PostingOutcome:
    for problem in refused.problems:
        posting_problem_raise(problem=problem, obj=obj, title=title, retry_name=retry_name, retry_args=retry_args)
    return PostingOutcome(PostingStatus.REFUSED, problems=refused.problems)


def _entry_write(
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
    date, memo = open_date(date, draft.memo[:255])  # never into a closed period
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=draft.currency,
        memo=memo,
        batch=batch,
        status=JournalEntry.Status.DRAFT if batch is not None else JournalEntry.Status.READY,
    )
    if batch is None:  # a batch's drafts are metered once, as its summary
        usage_count(metric="journals_posted")
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


def _reversal_write(*, entry: JournalEntry, source_key: str, date: dt.date, memo: str) -> JournalEntry:
    # A reversal joins its original's batch while that is open, so the summary nets them out.
    batch = entry.batch if entry.batch is not None and entry.batch.status == PostingBatch.Status.OPEN else None
    date, memo = open_date(date, memo[:255])  # never into a closed period
    reversal = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=entry.currency,
        memo=memo,
        reverses=entry,
        batch=batch,
        status=JournalEntry.Status.DRAFT if batch is not None else JournalEntry.Status.READY,
    )
    if batch is None:  # a batch's drafts are metered once, as its summary
        usage_count(metric="journals_posted")
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


def _posted_net(prefix: str) -> dict[tuple, tuple[Decimal, str]]:
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


def _difference(
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


class _Unchanged(Exception):
    """A new version that posts exactly what was posted: leaves the posting transaction."""


def _version_of(source_key: str) -> str:
    return source_key.rsplit(":", 1)[-1]


def _post(
    *,
    source_key: str,
    version_prefix: str | None,
    date: dt.date,
    at: dt.datetime,
    build,
    obj: models.Model,
    title: str,
    retry_name: str,
    retry_args: dict,
    sources: list[dict],
    policy: PostingPolicy | None = None,
    changed_at: dt.datetime | None = None,
) -> PostingOutcome:
    """`build` runs only when the entry is not posted yet, so replays cost one query.

    A new version of a document already posted (DESIGN.md §4) posts only the difference between
    what the new version posts and what was posted for the document so far, as one adjusting
    entry dated at the change (`changed_at`, when the new version was received), never a reversal
    and re-post at the original date; a version that changes nothing posts nothing (UNCHANGED)."""
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    try:
        draft = build()
        accounts = _resolve(draft, account_resolver(at=at))
    except PostingRefused as refused:
        return _refuse(refused, obj=obj, title=title, retry_name=retry_name, retry_args=retry_args)
    policy = policy or policy_get()
    try:
        with transaction.atomic():
            # One version of a document posts at a time, so two differences never overlap.
            type(obj).objects.select_for_update().filter(pk=obj.pk).first()
            previous = None
            if version_prefix is not None:
                previous = (
                    JournalEntry.objects.filter(source_key__startswith=version_prefix)
                    .exclude(source_key__endswith=":superseded")
                    .order_by("-pk")
                    .first()
                )
            if previous is None:
                batch = _batch_for(at=at, currency=draft.currency, policy=policy)
                entry = _entry_write(
                    source_key=source_key, date=date, draft=draft, accounts=accounts, sources=sources, batch=batch
                )
            else:
                difference = _difference(accounts, _posted_net(version_prefix))
                if difference is None:
                    unchanged = previous
                    raise _Unchanged
                moment = max(changed_at or at, at)
                change = f"{_version_of(previous.source_key)} → {_version_of(source_key)}"
                adjusting = [
                    (replace(line, description=f"Change {change}: {line.description}"), account)
                    for line, account in difference
                ]
                entry = _entry_write(
                    source_key=source_key,
                    date=_local_date(moment),
                    draft=Draft(
                        currency=draft.currency,
                        memo=f"{draft.memo}: version change {change}, difference only",
                        lines=[line for line, _account in adjusting],
                    ),
                    accounts=adjusting,
                    sources=sources,
                    batch=_batch_for(at=moment, currency=draft.currency, policy=policy),
                )
    except _Unchanged:
        exception_resolve_for_object(obj=obj, reason=f"Nothing changed since journal entry {unchanged.pk}.")
        return PostingOutcome(PostingStatus.UNCHANGED, entry=unchanged)
    except IntegrityError:
        existing = JournalEntry.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    exception_resolve_for_object(obj=obj, reason=f"Posted as journal entry {entry.pk}.")
    for warning in draft.warnings:
        posting_problem_raise(problem=warning, obj=obj, title=title)
    return PostingOutcome(PostingStatus.POSTED, entry=entry)


def batch_window(*, at: dt.datetime, policy: PostingPolicy) -> tuple[dt.datetime, dt.datetime]:
    """The tenant-local window holding `at`: the hour, or the day starting at the cut-off hour."""
    local = at.astimezone(tenant_zone())
    if policy.batch_window == PostingPolicy.Window.HOURLY:
        start = local.replace(minute=0, second=0, microsecond=0)
        return start, start + dt.timedelta(hours=1)
    start = local.replace(hour=policy.cutoff_hour, minute=0, second=0, microsecond=0)
    if local < start:
        start -= dt.timedelta(days=1)
    # Wall-clock arithmetic on the local zone: a DST day is 23 or 25 hours long, still one day.
    end = (start.replace(tzinfo=None) + dt.timedelta(days=1)).replace(tzinfo=start.tzinfo)
    return start, end


def _batch_for(*, at: dt.datetime, currency: str, policy: PostingPolicy) -> PostingBatch | None:
    """The open batch of `at`'s window, or None to post on its own: when the policy posts per
    document, or when that window's batch is already closed (a late arrival never changes a
    closed summary)."""
    if policy.mode != PostingPolicy.Mode.BATCHED:
        return None
    start, end = batch_window(at=at, policy=policy)
    batch, _ = PostingBatch.objects.select_for_update().get_or_create(
        window_start=start, currency=currency, defaults={"window_end": end}
    )
    return batch if batch.status == PostingBatch.Status.OPEN else None


@transaction.atomic
def batch_close(*, batch: PostingBatch) -> JournalEntry | None:
    """Close a batch into one READY entry summarised per account, role and dimensions (net of
    debits and credits); its draft entries stay as the drill-down to every document behind it."""
    batch = PostingBatch.objects.select_for_update().get(pk=batch.pk)
    source_key = f"batch:{batch.pk}"
    if batch.status == PostingBatch.Status.CLOSED:
        return JournalEntry.objects.filter(source_key=source_key).first()
    totals = (
        JournalLine.objects.filter(entry__batch=batch)
        .values("account_id", "role", "dimensions")
        .annotate(debit=models.Sum("debit"), credit=models.Sum("credit"))
        .order_by("account_id", "role", "dimensions")
    )
    count = batch.entries.count()
    batch.status = PostingBatch.Status.CLOSED
    batch.closed_at = dt.datetime.now(dt.UTC)
    batch.save(update_fields=["status", "closed_at"])
    rows = [row for row in totals if row["debit"] != row["credit"]]
    if not rows:
        return None
    local_start = batch.window_start.astimezone(tenant_zone())
    date, memo = open_date(local_start.date(), f"Summary of {count} entries from {local_start:%Y-%m-%d %H:%M}")
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=batch.currency,
        memo=memo,
        status=JournalEntry.Status.READY,
    )
    usage_count(metric="journals_posted")
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=entry,
            position=position,
            account_id=row["account_id"],
            role=row["role"],
            debit=max(row["debit"] - row["credit"], Decimal(0)),
            credit=max(row["credit"] - row["debit"], Decimal(0)),
            dimensions=row["dimensions"],
            description=f"Batch {batch.pk}: {row['role']}",
            sources=[{"type": "batch", "id": batch.pk, "entries": count}],
        )
        for position, row in enumerate(rows)
    )
    return entry


def batches_close_due(*, now: dt.datetime) -> list[JournalEntry]:
    """Close every open batch whose window has ended (the periodic job's one call). A batch that
    cannot close is raised into the inbox and the others still close; it is tried again next run."""
    due = PostingBatch.objects.filter(status=PostingBatch.Status.OPEN, window_end__lte=now).order_by("window_start")
    closed: list[JournalEntry] = []
    for batch in due:
        try:
            entry = batch_close(batch=batch)
        except Exception as error:  # any failure of one batch becomes an exception record
            posting_problem_raise(
                problem=Problem("batch_close_failed", f"{type(error).__name__}: {error}"),
                obj=batch,
                title=f"Posting batch {batch.pk} ({batch.currency}) could not close",
            )
            continue
        if entry is not None:
            closed.append(entry)
    return closed


def _order_sources(order: Order) -> list[dict]:
    return [{"type": "order", "id": order.pk, "external_id": order.external_id, "raw_event_id": order.raw_event_id}]


def order_recognised_at(*, order: Order, policy: PostingPolicy) -> dt.datetime | None:
    return order.fulfilled_at if policy.recognise_on == PostingPolicy.Recognise.FULFILLED else order.paid_at


def journal_post_order(*, order: Order) -> PostingOutcome:
    """Post the order's current version when the policy recognises it (paid or fulfilled). After
    an earlier version was posted, only the difference is posted, dated at the change."""
    policy = policy_get()
    at = order_recognised_at(order=order, policy=policy)
    if at is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    source_key = f"order:{order.pk}:v{order.source_version}"
    cancellation = JournalEntry.objects.filter(source_key=_cancellation_key(order)).first()
    if cancellation is not None and not JournalEntry.objects.filter(source_key=source_key).exists():
        # Nothing is outstanding after the cancellation: a later version changes nothing posted.
        exception_resolve_for_object(
            obj=order, reason=f"Order {order.external_id} is cancelled (entry {cancellation.pk})."
        )
        return PostingOutcome(PostingStatus.COVERED, entry=cancellation)
    return _post(
        source_key=source_key,
        version_prefix=f"order:{order.pk}:v",
        date=_local_date(at),
        at=at,
        changed_at=order.updated_at,
        build=lambda: build_order(order_document(order=order), _builder_policy(policy)),
        policy=policy,
        obj=order,
        title=f"Order {order.external_id} could not be posted",
        retry_name="posting.order",
        retry_args={"order_id": order.pk},
        sources=_order_sources(order),
    )


def _order_entry(order: Order) -> JournalEntry | None:
    """The order's latest entry (its first posting, or the latest version's difference); None
    while the order is not posted. A version that changed nothing has no entry of its own."""
    return (
        JournalEntry.objects.filter(source_key__startswith=f"order:{order.pk}:v")
        .exclude(source_key__endswith=":superseded")
        .order_by("-pk")
        .first()
    )


def _cancellation_key(order: Order) -> str:
    return f"order:{order.pk}:cancel"


def journal_post_refund(*, refund: Refund) -> PostingOutcome:
    """Post the mirror of what the order posted for the refunded lines (posting.builders). After
    the order's cancellation was posted nothing is outstanding: the cancellation already reversed
    revenue, tax and the payment, so the refund posts no entry (COVERED) and clearing stays at zero."""
    order = refund.order
    title = f"Refund {refund.external_id} of order {order.external_id} could not be posted"
    retry = {"retry_name": "posting.refund", "retry_args": {"refund_id": refund.pk}}
    source_key = f"refund:{refund.pk}:v{refund.source_version}"
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    if _order_entry(order) is None:
        problem = Problem("order_not_posted", f"Order {order.external_id} has not been posted yet.")
        return _refuse(PostingRefused([problem]), obj=refund, title=title, **retry)
    cancellation = JournalEntry.objects.filter(source_key=_cancellation_key(order)).first()
    if cancellation is not None:
        exception_resolve_for_object(
            obj=refund, reason=f"Covered by the cancellation of order {order.external_id} (entry {cancellation.pk})."
        )
        return PostingOutcome(PostingStatus.COVERED)
    policy = policy_get()
    document = order_document(order=order)
    earlier = [refund_document(refund=other) for other in refunds_before(refund=refund)]
    this = refund_document(refund=refund)
    return _post(
        source_key=source_key,
        version_prefix=f"refund:{refund.pk}:v",
        date=_local_date(refund.processed_at),
        at=refund.processed_at,
        changed_at=refund.updated_at,
        build=lambda: build_refund(document, this, earlier, _builder_policy(policy)),
        policy=policy,
        obj=refund,
        title=title,
        sources=[
            {"type": "refund", "id": refund.pk, "external_id": refund.external_id, "raw_event_id": refund.raw_event_id},
            *_order_sources(order),
        ],
        **retry,
    )


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


def journal_post_cancellation(*, order: Order) -> PostingOutcome:
    """Reverse what the order still has outstanding. With no refund posted that is the order's
    entry in full (its exact mirror); after refunds it is only what they did not already take back:
    the remaining revenue (net of the refunds' mirror of it), discounts, tax, shipping and the part
    of each payment not yet refunded, so nothing is reversed twice and clearing ends at zero."""
    source_key = _cancellation_key(order)
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    if order.cancelled_at is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    original = _order_entry(order)
    if original is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    date = _local_date(order.cancelled_at)
    memo = f"Cancellation of order {order.external_id}"
    refund_keys = models.Q()
    for pk in order.refunds.values_list("pk", flat=True):
        refund_keys |= models.Q(source_key__startswith=f"refund:{pk}:v")
    refunded = bool(refund_keys) and JournalEntry.objects.filter(refund_keys).exists()
    # After a version change the order's entries are its first posting and the differences: the
    # cancellation reverses what they net to, not the latest difference alone.
    changed = JournalEntry.objects.filter(source_key__startswith=f"order:{order.pk}:v").count() > 1
    try:
        with transaction.atomic():
            if not refunded and not changed:
                entry = _reversal_write(entry=original, source_key=source_key, date=date, memo=memo)
            else:
                entry = _outstanding_reverse(
                    order=order, original=original, source_key=source_key, date=date, memo=memo
                )
    except PostingRefused as refused:
        return _refuse(
            refused,
            obj=order,
            title=f"Cancellation of order {order.external_id} could not be posted",
            retry_name="posting.cancellation",
            retry_args={"order_id": order.pk},
        )
    if entry is None:
        return PostingOutcome(PostingStatus.COVERED)
    return PostingOutcome(PostingStatus.POSTED, entry=entry)


def _outstanding_reverse(
    *, order: Order, original: JournalEntry, source_key: str, date: dt.date, memo: str
) -> JournalEntry | None:
    outstanding = _outstanding(order)
    if not outstanding:
        return None  # refunds already took everything back
    debit = sum((-amount for _line, amount in outstanding if amount < 0), Decimal(0))
    credit = sum((amount for _line, amount in outstanding if amount > 0), Decimal(0))
    if debit != credit:  # every entry netted balances, so this is a corrupted ledger, never fudged
        raise PostingRefused([Problem("unbalanced", f"Outstanding debits {debit} and credits {credit} differ.")])
    batch = original.batch if original.batch is not None and original.batch.status == PostingBatch.Status.OPEN else None
    date, memo = open_date(date, f"{memo} (what is still outstanding)"[:255])  # never into a closed period
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=original.currency,
        memo=memo,
        reverses=original,
        batch=batch,
        status=JournalEntry.Status.DRAFT if batch is not None else JournalEntry.Status.READY,
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
            sources=_order_sources(order),
        )
        for position, (line, amount) in enumerate(outstanding)
    )
    return entry


def journal_post_payout(*, payout: Payout) -> PostingOutcome:
    document = payout_document(payout=payout)
    at = dt.datetime.combine(payout.arrival_date, dt.time(12), tzinfo=tenant_zone())
    return _post(
        source_key=f"payout:{payout.pk}:v{payout.source_version}",
        version_prefix=f"payout:{payout.pk}:v",
        date=payout.arrival_date,
        at=at,
        changed_at=payout.updated_at,
        build=lambda: build_payout(document),
        obj=payout,
        title=f"Payout {payout.external_id} could not be posted",
        retry_name="posting.payout",
        retry_args={"payout_id": payout.pk},
        sources=[
            {"type": "payout", "id": payout.pk, "external_id": payout.external_id, "raw_event_id": payout.raw_event_id}
        ],
    )


def entry_balance(*, entry: JournalEntry) -> Decimal:
    totals = entry.lines.aggregate(debit=models.Sum("debit"), credit=models.Sum("credit"))
    return (totals["debit"] or Decimal(0)) - (totals["credit"] or Decimal(0))


def _charge_expected(*, reference: str, gateway: str, currency: str) -> tuple[Decimal | None, str]:
    orders = list(Order.objects.filter(external_id=reference)[:2])
    if len(orders) != 1:
        return None, "no order with this reference" if not orders else "several orders share this reference"
    order = orders[0]
    if order.currency != currency:
        return None, f"the order is in {order.currency}, the payout in {currency}"
    if _order_entry(order) is None:
        return None, "the order is not posted"
    paid = order.payments.filter(gateway=gateway, is_gift_card=False).aggregate(total=models.Sum("amount"))["total"]
    return quantize(paid or 0, order.currency), ""


def _refund_expected(*, reference: str, currency: str) -> tuple[Decimal | None, str]:
    refunds = list(Refund.objects.filter(external_id=reference)[:2])
    if len(refunds) != 1:
        return None, "no refund with this reference" if not refunds else "several refunds share this reference"
    refund = refunds[0]
    if refund.currency != currency:
        return None, f"the refund is in {refund.currency}, the payout in {currency}"
    entries = JournalEntry.objects.filter(source_key__startswith=f"refund:{refund.pk}:v")
    if not entries.exists():
        return None, "the refund is not posted"
    # Its first posting and every version's difference, net.
    totals = JournalLine.objects.filter(entry__in=entries, role="payment_clearing").aggregate(
        debit=models.Sum("debit"), credit=models.Sum("credit")
    )
    return -quantize((totals["credit"] or Decimal(0)) - (totals["debit"] or Decimal(0)), refund.currency), ""


@transaction.atomic
def payout_reconcile(*, payout: Payout) -> Reconciliation:
    """Match each charge and refund line of a payout to what was posted for its order or refund.
    Every difference (amount, missing or unposted document) is recorded and raised as a problem."""
    differences = []
    matched = 0
    for position, line in enumerate(payout.lines.order_by("position")):
        if line.type == PayoutLine.Type.CHARGE:
            expected, reason = _charge_expected(
                reference=line.reference, gateway=payout.gateway, currency=payout.currency
            )
        elif line.type == PayoutLine.Type.REFUND:
            expected, reason = _refund_expected(reference=line.reference, currency=payout.currency)
        else:
            continue
        actual = quantize(line.amount, payout.currency)
        if expected is not None and expected != actual:
            reason = f"posted {expected}, paid out {actual}"
        if reason:
            differences.append(
                {
                    "line": position,
                    "type": line.type,
                    "reference": line.reference,
                    "expected": str(expected) if expected is not None else None,
                    "actual": str(actual),
                    "reason": reason,
                }
            )
        else:
            matched += 1
    reconciliation, _ = Reconciliation.objects.update_or_create(
        payout=payout,
        defaults={
            "status": Reconciliation.Status.DIFFERENCES if differences else Reconciliation.Status.MATCHED,
            "matched": matched,
            "differences": differences,
        },
    )
    # Lines booked to payout suspense keep their exception open until someone reclassifies them.
    if not differences and not payout.lines.filter(type=PayoutLine.Type.OTHER).exists():
        exception_resolve_for_object(obj=payout, reason="Payout reconciles.")
    for difference in differences:
        message = (
            f"Payout {payout.external_id} {difference['type']} {difference['reference']!r}: {difference['reason']}."
        )
        transaction.on_commit(
            lambda message=message: posting_problem_raise(
                problem=Problem("reconciliation_difference", message),
                obj=payout,
                title=f"Payout {payout.external_id} does not reconcile",
                retry_name="posting.payout_reconcile",
                retry_args={"payout_id": payout.pk},
            )
        )
    return reconciliation
