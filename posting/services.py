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
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from commerce.documents import CanonicalProcessorCharge, PaymentDoc
from commerce.models import Order, Payment, Payout, PayoutLine, Refund
from commerce.selectors import order_document, payout_document, refund_document, refunds_before
from core.money import quantize
from core.tenancy import tenant_zone
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
    build_processor_charge,
    build_refund,
)
from posting.errors import posting_problem_raise
from posting.models import JournalEntry, JournalLine, PostingBatch, PostingPolicy, Reconciliation
from posting.periods import open_date
from tenants.audit import audit_diff, audit_record_in_tenant
from tenants.models import User
from tenants.usage import usage_count
from triage.services import exception_resolve_for_object


class PostingStatus(enum.StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"
    NOT_DUE = "not_due"
    REFUSED = "refused"
    COVERED = "covered"  # nothing outstanding: an overlapping document already posted all of it
    UNCHANGED = "unchanged"  # a new version posting exactly what was posted for the document so far
    ORDER_MISSING = "order_missing"  # a processor charge whose storefront order is not ingested yet


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
def policy_update(*, actor: User | None = None, actor_label: str | None = None, **values: object) -> PostingPolicy:
    policy = PostingPolicy.objects.select_for_update().get(pk=policy_get().pk)
    before = {name: getattr(policy, name) for name in POLICY_FIELDS}
    for name, value in values.items():
        if name not in POLICY_FIELDS:
            raise ValidationError({name: "Not a posting policy setting."})
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    changes = audit_diff(before, {name: getattr(policy, name) for name in POLICY_FIELDS})
    if changes:
        audit_record_in_tenant(
            actor=actor, actor_label=actor_label, action="posting_policy.update", target=policy, changes=changes
        )
    return policy


def _builder_policy(policy: PostingPolicy) -> Policy:
    return Policy(
        discounts=policy.discounts, allocation=policy.allocation, unallocated_refunds=policy.unallocated_refunds
    )


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
    for warning in draft.warnings:  # posted, but something needs a person: not "could not be posted"
        posting_problem_raise(
            problem=warning, obj=obj, title=f"{title.removesuffix(' could not be posted')} posted with a warning"
        )
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
    book_fees = _fees_at_charge(order)
    return _post(
        source_key=source_key,
        version_prefix=f"order:{order.pk}:v",
        date=_local_date(at),
        at=at,
        changed_at=order.updated_at,
        build=lambda: build_order(order_document(order=order), _builder_policy(policy), book_fees=book_fees),
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


# --- processors: fees at charge time (DESIGN.md §4) ---------------------------------------------

PROCESSOR_CHARGE_PREFIX = "processor_charge:"
FEE_AT_CHARGE_SOURCES = ("stripe",)  # sales-channel orders whose fee the processor states at charge time


def _processor_charge_key(charge_id: str) -> str:
    return f"{PROCESSOR_CHARGE_PREFIX}{charge_id}"


def _payout_booked_fee(reference: str) -> bool:
    """True when a posted payout already booked the fee of the charge `reference` (the payout
    arrived first): the charge must not book it again."""
    for line in PayoutLine.objects.filter(type=PayoutLine.Type.CHARGE, reference=reference).select_related("payout"):
        payout = line.payout
        key = f"payout:{payout.pk}:v{payout.source_version}"
        if line.fee and JournalEntry.objects.filter(source_key=key).exists():
            return True
    return False


def _fees_at_charge(order: Order) -> bool:
    """A sales-channel charge books its fee with the sale, unless a payout already booked it."""
    if order.source not in FEE_AT_CHARGE_SOURCES:
        return False
    payments = [payment for payment in order.payments.all() if payment.fee]
    return bool(payments) and not any(_payout_booked_fee(payment.external_id) for payment in payments)


def fees_booked_at_charge(*, references: list[str]) -> frozenset[str]:
    """Of the charge references, those whose fee is already booked at charge time: by a processor
    charge entry, or by the posted current version of a sales-channel order (its fee line)."""
    references = [reference for reference in references if reference]
    if not references:
        return frozenset()
    keys = {_processor_charge_key(reference): reference for reference in references}
    booked = {
        keys[key]
        for key in JournalLine.objects.filter(
            entry__source_key__in=list(keys), role=PostingRole.MERCHANT_FEES
        ).values_list("entry__source_key", flat=True)
    }
    for order in Order.objects.filter(source__in=FEE_AT_CHARGE_SOURCES, external_id__in=references):
        entry = _order_entry(order)
        if entry is not None and entry.lines.filter(role=PostingRole.MERCHANT_FEES).exists():
            booked.add(order.external_id)
    return frozenset(booked)


def processor_charge_order(*, charge: CanonicalProcessorCharge) -> tuple[Order, PaymentDoc | None] | None:
    """The storefront order a processor charge pays: the order whose payment keeps the charge or
    payment intent id (WooCommerce's `transaction_id`, a gateway's transaction reference), else the
    one order the charge's metadata names. Orders of the processor's own connection never count."""
    payment = (
        Payment.objects.filter(external_id__in=charge.references, is_gift_card=False)
        .exclude(order__source=charge.gateway)
        .select_related("order")
        .order_by("pk")
        .first()
    )
    order = payment.order if payment is not None else None
    if order is None and charge.order_references:
        orders = list(Order.objects.filter(external_id__in=charge.order_references).exclude(source=charge.gateway)[:2])
        order = orders[0] if len(orders) == 1 else None
    if order is None:
        return None
    if payment is None:
        candidates = [p for p in order.payments.order_by("position") if not p.is_gift_card]
        payment = next((p for p in candidates if charge.gateway in p.gateway.lower()), None) or next(
            iter(candidates), None
        )
    doc = None
    if payment is not None:
        doc = PaymentDoc(
            external_id=payment.external_id,
            gateway=payment.gateway,
            amount=quantize(payment.amount, order.currency),
            method=payment.method,
        )
    return order, doc


def journal_post_processor_charge(*, charge: CanonicalProcessorCharge) -> PostingOutcome:
    """Post a processor's charge that pays a storefront order: it settles the order's payment
    clearing and books the fee at charge time; it never books a sale (the order did). Idempotent
    on `processor_charge:<charge id>`. ORDER_MISSING when the order is not ingested yet (the
    caller retries the event, then raises it); nothing is posted in that case."""
    source_key = _processor_charge_key(charge.external_id)
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    found = processor_charge_order(charge=charge)
    if found is None:
        return PostingOutcome(PostingStatus.ORDER_MISSING)
    order, payment = found
    fee = charge.fee or Decimal(0)
    if fee and _payout_booked_fee(charge.external_id):
        fee = Decimal(0)  # the payout posted first and booked it
    document = order_document(order=order)
    retry = {
        "retry_name": "connectors.replay" if charge.raw_event_id else None,
        "retry_args": {"event_id": charge.raw_event_id},
    }
    return _post(
        source_key=source_key,
        version_prefix=None,
        date=_local_date(charge.created_at),
        at=charge.created_at,
        build=lambda: build_processor_charge(charge, document, payment, fee=quantize(fee, order.currency)),
        obj=order,
        title=f"{charge.gateway} charge {charge.external_id} for order {order.external_id} could not be posted",
        sources=[
            {
                "type": "processor_charge",
                "external_id": charge.external_id,
                "raw_event_id": charge.raw_event_id,
                "amount": str(charge.amount),
                "fee_at_charge": str(fee) if fee else None,
            },
            *_order_sources(order),
        ],
        **retry,
    )


def journal_post_payout(*, payout: Payout) -> PostingOutcome:
    document = payout_document(payout=payout)
    fees_booked = fees_booked_at_charge(
        references=[line.reference for line in document.lines if line.type == PayoutLine.Type.CHARGE]
    )
    at = dt.datetime.combine(payout.arrival_date, dt.time(12), tzinfo=tenant_zone())
    return _post(
        source_key=f"payout:{payout.pk}:v{payout.source_version}",
        version_prefix=f"payout:{payout.pk}:v",
        date=payout.arrival_date,
        at=at,
        changed_at=payout.updated_at,
        build=lambda: build_payout(document, fees_booked=fees_booked),
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


def _posted_clearing_credit(entry: JournalEntry) -> Decimal:
    return entry.lines.filter(role="payment_clearing").aggregate(total=models.Sum("credit"))["total"] or Decimal(0)


@dataclass(frozen=True)
class _Expected:
    """What a charge or refund line should be, from the document it settles; `amount` None: not known."""

    amount: Decimal | None
    reason: str = ""
    document: dict | None = None
    entry_id: int | None = None


def _charge_expected(*, reference: str, gateway: str, currency: str) -> _Expected:
    orders = list(Order.objects.filter(external_id=reference)[:2])
    processor_entry = None
    if not orders:
        processor_entry = JournalEntry.objects.filter(source_key=_processor_charge_key(reference)).first()
    if processor_entry is not None:  # a processor charge: it settled its storefront order's clearing
        line = processor_entry.lines.order_by("position").first()
        order_source = next((source for source in line.sources if source.get("type") == "order"), None)
        document = (
            {"type": "order", "id": order_source["id"], "external_id": order_source["external_id"]}
            if order_source
            else None
        )
        if processor_entry.currency != currency:
            return _Expected(None, f"the charge is in {processor_entry.currency}, the payout in {currency}", document)
        return _Expected(quantize(_posted_clearing_credit(processor_entry), currency), "", document, processor_entry.pk)
    if len(orders) != 1:
        return _Expected(None, "no order with this reference" if not orders else "several orders share this reference")
    order = orders[0]
    document = {"type": "order", "id": order.pk, "external_id": order.external_id}
    if order.currency != currency:
        return _Expected(None, f"the order is in {order.currency}, the payout in {currency}", document)
    entry = _order_entry(order)
    if entry is None:
        return _Expected(None, "the order is not posted", document)
    paid = order.payments.filter(gateway=gateway, is_gift_card=False).aggregate(total=models.Sum("amount"))["total"]
    return _Expected(quantize(paid or 0, order.currency), "", document, entry.pk)


def _refund_expected(*, reference: str, currency: str) -> _Expected:
    refunds = list(Refund.objects.filter(external_id=reference)[:2])
    if len(refunds) != 1:
        return _Expected(
            None, "no refund with this reference" if not refunds else "several refunds share this reference"
        )
    refund = refunds[0]
    document = {"type": "refund", "id": refund.pk, "external_id": refund.external_id, "order_id": refund.order_id}
    if refund.currency != currency:
        return _Expected(None, f"the refund is in {refund.currency}, the payout in {currency}", document)
    entries = JournalEntry.objects.filter(source_key__startswith=f"refund:{refund.pk}:v")
    latest = entries.order_by("-pk").first()
    if latest is None:
        return _Expected(None, "the refund is not posted", document)
    # Its first posting and every version's difference, net.
    totals = JournalLine.objects.filter(entry__in=entries, role="payment_clearing").aggregate(
        debit=models.Sum("debit"), credit=models.Sum("credit")
    )
    credited = (totals["credit"] or Decimal(0)) - (totals["debit"] or Decimal(0))
    return _Expected(-quantize(credited, refund.currency), "", document, latest.pk)


# The role each payout line type is booked to by build_payout, and the sign that turns the line's
# amount into a debit on that role (a fee line of -2.00 debits merchant fees 2.00; an adjustment,
# reserve or unknown line of -1.00 credits its role -1.00, i.e. debits it 1.00).
PAYOUT_LINE_ROLES: dict[str, tuple[str, int]] = {
    PayoutLine.Type.FEE: (PostingRole.MERCHANT_FEES, -1),
    PayoutLine.Type.ADJUSTMENT: (PostingRole.PAYOUT_ADJUSTMENT, -1),
    PayoutLine.Type.RESERVE: (PostingRole.RESERVE, -1),
    PayoutLine.Type.OTHER: (PostingRole.PAYOUT_SUSPENSE, -1),
}


def _payout_role_postings(payout: Payout) -> tuple[list[int], dict[str, tuple[Decimal, list[int]]]]:
    """Every journal entry posted for this payout, oldest first (all versions, reversals netting
    out) and, per role, the net debit posted and the ids of the journal lines behind it."""
    entries = list(
        JournalEntry.objects.filter(source_key__startswith=f"payout:{payout.pk}:v")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    per_role: dict[str, tuple[Decimal, list[int]]] = {}
    for line_id, role, debit, credit in JournalLine.objects.filter(entry_id__in=entries).values_list(
        "pk", "role", "debit", "credit"
    ):
        total, ids = per_role.get(role, (Decimal(0), []))
        per_role[role] = (total + debit - credit, [*ids, line_id])
    return entries, per_role


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


@transaction.atomic
def payout_reconcile(*, payout: Payout) -> Reconciliation:
    """Match every line of a payout (DESIGN.md §4). Charges and refunds: to what was posted for the
    order or refund they settle. Fee, adjustment and reserve lines (and the fees carried on charge
    lines): to the payout journal's line of their role, which must hold exactly what the payout's
    lines of that role add up to. Lines of a vendor type Tillbridge does not know are shown in
    suspense (their exception stays open until reclassified). Every other difference is recorded,
    raised as a reconciliation problem, and its amount explained per line."""
    currency = payout.currency
    payout_lines = list(payout.lines.order_by("position"))
    entries, per_role = _payout_role_postings(payout)
    # What the payout's lines put on each role, as a net debit.
    role_expected: dict[str, Decimal] = defaultdict(Decimal)
    for line in payout_lines:
        role_expected[PostingRole.MERCHANT_FEES] += line.fee
        if line.type in PAYOUT_LINE_ROLES:
            role, sign = PAYOUT_LINE_ROLES[line.type]
            role_expected[role] += sign * line.amount

    rows: list[dict] = []
    differences: list[dict] = []
    for position, line in enumerate(payout_lines):
        actual = quantize(line.amount, currency)
        row = {
            "line": position,
            "line_id": line.pk,
            "type": line.type,
            "vendor_type": line.vendor_type,
            "reference": line.reference,
            "description": line.description,
            "amount": str(actual),
            "fee": str(quantize(line.fee, currency)),
            "role": "",
            "document": None,
            "journal_entry": None,
            "journal_lines": [],
            "expected": None,
            "difference": "0",
            "reason": "",
        }
        if line.type in (PayoutLine.Type.CHARGE, PayoutLine.Type.REFUND):
            if line.type == PayoutLine.Type.CHARGE:
                expected = _charge_expected(reference=line.reference, gateway=payout.gateway, currency=currency)
            else:
                expected = _refund_expected(reference=line.reference, currency=currency)
            row.update(role=PostingRole.PAYMENT_CLEARING, document=expected.document, journal_entry=expected.entry_id)
            reason = expected.reason
            if expected.amount is not None and expected.amount != actual:
                reason = f"posted {expected.amount}, paid out {actual}"
            row["expected"] = _money(expected.amount)
            gap = actual - expected.amount if expected.amount is not None else actual
        else:
            role, _sign = PAYOUT_LINE_ROLES.get(line.type, (PostingRole.PAYOUT_SUSPENSE, -1))
            posted, line_ids = per_role.get(role, (Decimal(0), []))
            wanted = quantize(role_expected.get(role, Decimal(0)), currency)
            row.update(role=role, journal_entry=entries[-1] if entries else None, journal_lines=line_ids)
            row["expected"] = _money(actual) if entries else None
            gap = Decimal(0)
            if not entries:
                reason, gap = "the payout is not posted", actual
                row["expected"] = None
            elif quantize(posted, currency) != wanted:
                reason = f"the payout journal holds {quantize(posted, currency)} on {role}, its lines {wanted}"
                gap = actual
            else:
                reason = ""
        row["difference"] = str(quantize(gap, currency)) if reason else "0"
        if line.type == PayoutLine.Type.OTHER and not reason:
            row["state"] = "suspense"
            row["difference"] = str(actual)
            row["reason"] = f"vendor type {line.vendor_type or 'unknown'!r} booked to payout suspense"
        elif reason:
            row["state"] = "unmatched"
            row["reason"] = reason
            differences.append(
                {
                    "line": position,
                    "type": line.type,
                    "reference": line.reference,
                    "expected": row["expected"],
                    "actual": str(actual),
                    "reason": reason,
                }
            )
        else:
            row["state"] = "matched"
        rows.append(row)

    matched = sum(1 for row in rows if row["state"] == "matched")
    if matched == len(rows):  # a payout with no lines has nothing left to match
        status = Reconciliation.Status.MATCHED
    elif matched == 0:
        status = Reconciliation.Status.UNMATCHED
    else:
        status = Reconciliation.Status.DIFFERENCES
    difference = quantize(sum((Decimal(row["difference"]) for row in rows), Decimal(0)), currency)
    reconciliation, _ = Reconciliation.objects.update_or_create(
        payout=payout,
        defaults={
            "status": status,
            "matched": matched,
            "differences": differences,
            "lines": rows,
            "difference": difference,
        },
    )
    # Lines booked to payout suspense keep their exception open until someone reclassifies them.
    if status == Reconciliation.Status.MATCHED:
        exception_resolve_for_object(obj=payout, reason="Payout reconciles.")
    for row in differences:
        message = f"Payout {payout.external_id} {row['type']} {row['reference']!r}: {row['reason']}."
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
