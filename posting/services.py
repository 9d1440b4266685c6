"""Posting: canonical documents → balanced journal entries in the built-in ledger.

Every service is idempotent on the entry's `source_key` (`order:<pk>:v<version>`,
`refund:<pk>:v<version>`, `order:<pk>:cancel`, `payout:<pk>:v<version>`): running it again returns
the entry already posted. A document that cannot be posted (an unmapped role, amounts that do not
balance, a refund larger than what was posted) posts nothing and raises one problem per cause
into triage (`exception_raise`); the outcome carries the same problems for the caller.

Here: the policy, what to post and when (versions, batches, overlaps). The entries are written by
posting.journals, processor fees are settled in posting.processors, payouts are reconciled in
posting.reconciliation, and the lines come from posting.builders and posting.refund_builders.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from commerce.documents import CanonicalOrder, CanonicalProcessorCharge
from commerce.models import Order, Payout, PayoutLine, Refund
from commerce.selectors import order_document, payout_document, refund_document, refunds_before
from core.money import quantize
from core.tenancy import tenant_zone
from mappings.selectors import AccountResolver, Unmapped, account_resolver_cached
from posting import batch as posting_batch
from posting.builders import (
    Draft,
    Policy,
    PostingRefused,
    Problem,
    RoleLine,
    build_order,
    build_payout,
    build_processor_charge,
)
from posting.errors import problem_fields
from posting.events import order_posted_emit, refund_posted_emit
from posting.journals import (
    cancellation_key,
    entry_create,
    entry_write,
    net_difference,
    order_entry,
    order_sources,
    outstanding_reverse,
    posted_net,
    reversal_write,
)
from posting.models import JournalEntry, JournalLine, PostingBatch, PostingPolicy
from posting.processors import (
    fees_at_charge,
    fees_booked_at_charge,
    payout_booked_fee,
    processor_charge_key,
    processor_charge_order,
)
from posting.refund_builders import build_refund
from promotions.budget import promotion_spend_record
from tenants.audit import audit_diff, audit_record_in_tenant
from tenants.models import User
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object


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
    return PostingPolicy.stored()


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
    policy = PostingPolicy.locked()
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


def local_date(moment: dt.datetime) -> dt.date:
    """The day `moment` falls on in the tenant's zone (where journals are dated)."""
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
        exception_raise(**problem_fields(problem), obj=obj, title=title, retry=RetryAction(retry_name, retry_args))
    return PostingOutcome(PostingStatus.REFUSED, problems=refused.problems)


class _Unchanged(Exception):
    """A new version that posts exactly what was posted: leaves the posting transaction."""

    def __init__(self, entry: JournalEntry) -> None:
        super().__init__(entry.pk)
        self.entry = entry


def _version_of(source_key: str) -> str:
    return source_key.rsplit(":", 1)[-1]


def _previous_version(version_prefix: str | None) -> JournalEntry | None:
    if version_prefix is None:
        return None
    return (
        JournalEntry.objects.filter(source_key__startswith=version_prefix)
        .exclude(source_key__endswith=":superseded")
        .order_by("-pk")
        .first()
    )


def _difference_write(
    *,
    previous: JournalEntry,
    source_key: str,
    version_prefix: str,
    draft: Draft,
    accounts: list[tuple[RoleLine, int]],
    sources: list[dict],
    moment: dt.datetime,
    policy: PostingPolicy,
) -> JournalEntry:
    """One adjusting entry, dated at the change, from what was posted to what `draft` posts."""
    difference = net_difference(accounts, posted_net(version_prefix))
    if difference is None:
        raise _Unchanged(previous)
    change = f"{_version_of(previous.source_key)} → {_version_of(source_key)}"
    adjusting = [
        (replace(line, description=f"Change {change}: {line.description}"), account) for line, account in difference
    ]
    return entry_write(
        source_key=source_key,
        date=local_date(moment),
        draft=Draft(
            currency=draft.currency,
            memo=f"{draft.memo}: version change {change}, difference only",
            lines=[line for line, _account in adjusting],
        ),
        accounts=adjusting,
        sources=sources,
        batch=_batch_for(at=moment, currency=draft.currency, policy=policy),
    )


def _posted(*, entry: JournalEntry, draft: Draft, obj: models.Model, title: str) -> PostingOutcome:
    exception_resolve_for_object(obj=obj, reason=f"Posted as journal entry {entry.pk}.")
    for warning in draft.warnings:  # posted, but something needs a person: not "could not be posted"
        exception_raise(
            **problem_fields(warning),
            obj=obj,
            title=f"{title.removesuffix(' could not be posted')} posted with a warning",
        )
    return PostingOutcome(PostingStatus.POSTED, entry=entry)


def draft_post(
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
        accounts = _resolve(draft, account_resolver_cached(at=at))
    except PostingRefused as refused:
        return _refuse(refused, obj=obj, title=title, retry_name=retry_name, retry_args=retry_args)
    policy = policy or policy_get()
    try:
        with transaction.atomic():
            # One version of a document posts at a time, so two differences never overlap.
            type(obj).objects.select_for_update().filter(pk=obj.pk).first()
            previous = _previous_version(version_prefix)
            if previous is None:
                batch = _batch_for(at=at, currency=draft.currency, policy=policy)
                entry = entry_write(
                    source_key=source_key, date=date, draft=draft, accounts=accounts, sources=sources, batch=batch
                )
            else:
                entry = _difference_write(
                    previous=previous,
                    source_key=source_key,
                    version_prefix=version_prefix,
                    draft=draft,
                    accounts=accounts,
                    sources=sources,
                    moment=max(changed_at or at, at),
                    policy=policy,
                )
    except _Unchanged as unchanged:
        exception_resolve_for_object(obj=obj, reason=f"Nothing changed since journal entry {unchanged.entry.pk}.")
        return PostingOutcome(PostingStatus.UNCHANGED, entry=unchanged.entry)
    except IntegrityError:
        existing = JournalEntry.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    return _posted(entry=entry, draft=draft, obj=obj, title=title)


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
    entry = entry_create(
        source_key=source_key,
        date=local_start.date(),
        currency=batch.currency,
        memo=f"Summary of {count} entries from {local_start:%Y-%m-%d %H:%M}",
        batch=None,
    )
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


def batches_open_window_end() -> dt.datetime | None:
    """When the first open batch's window ends (None: no batch is open)."""
    return PostingBatch.objects.filter(status=PostingBatch.Status.OPEN).aggregate(at=models.Min("window_end"))["at"]


def batches_close_due(*, now: dt.datetime) -> list[JournalEntry]:
    """Close every open batch whose window has ended (the periodic job's one call). A batch that
    cannot close is raised into the inbox and the others still close; it is tried again next run."""
    due = PostingBatch.objects.filter(status=PostingBatch.Status.OPEN, window_end__lte=now).order_by("window_start")
    closed: list[JournalEntry] = []
    for batch in due:
        try:
            entry = batch_close(batch=batch)
        except Exception as error:  # any failure of one batch becomes an exception record
            exception_raise(
                **problem_fields(Problem("batch_close_failed", f"{type(error).__name__}: {error}")),
                obj=batch,
                title=f"Posting batch {batch.pk} ({batch.currency}) could not close",
            )
            continue
        if entry is not None:
            closed.append(entry)
    return closed


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
    cancellation = JournalEntry.objects.filter(source_key=cancellation_key(order)).first()
    if cancellation is not None and not JournalEntry.objects.filter(source_key=source_key).exists():
        # Nothing is outstanding after the cancellation: a later version changes nothing posted.
        exception_resolve_for_object(
            obj=order, reason=f"Order {order.external_id} is cancelled (entry {cancellation.pk})."
        )
        return _spend_recorded(order, PostingOutcome(PostingStatus.COVERED, entry=cancellation))
    book_fees = fees_at_charge(order)
    outcome = draft_post(
        source_key=source_key,
        version_prefix=f"order:{order.pk}:v",
        date=local_date(at),
        at=at,
        changed_at=order.updated_at,
        build=lambda: build_order(order_document(order=order), _builder_policy(policy), book_fees=book_fees),
        policy=policy,
        obj=order,
        title=f"Order {order.external_id} could not be posted",
        retry_name="posting.order",
        retry_args={"order_id": order.pk},
        sources=order_sources(order),
    )
    if outcome.status == PostingStatus.POSTED:
        order_posted_emit([outcome.entry])
    return _spend_recorded(order, outcome)


SPEND_STATUSES = (PostingStatus.POSTED, PostingStatus.ALREADY_POSTED, PostingStatus.UNCHANGED, PostingStatus.COVERED)


def _spend_recorded(order: Order, outcome: PostingOutcome) -> PostingOutcome:
    """Once the order's discounts are posted (or its cancellation), record what they spent of the
    promotions they came from (issue 20; idempotent per order and version)."""
    if outcome.status in SPEND_STATUSES:
        promotion_spend_record(orders=[order])
    return outcome


def journals_post_orders(items: list[tuple[Order, CanonicalOrder]]) -> list[PostingOutcome]:
    """Post many orders at once, each exactly as `journal_post_order` would, from the canonical
    documents the caller holds (the documents as stored): one outcome per item, in order. The
    batch path lives in posting.batch; it uses this module for the policy and the single path.
    The promotions' spend is recorded for the whole batch at once (one query when none is published)."""
    outcomes = posting_batch.journals_post_orders(items)
    promotion_spend_record(
        orders=[
            order
            for (order, _document), outcome in zip(items, outcomes, strict=True)
            if outcome.status in SPEND_STATUSES
        ]
    )
    return outcomes


def journal_post_refund(*, refund: Refund) -> PostingOutcome:
    """Post the mirror of what the order posted for the refunded lines (posting.refund_builders). After
    the order's cancellation was posted nothing is outstanding: the cancellation already reversed
    revenue, tax and the payment, so the refund posts no entry (COVERED) and clearing stays at zero."""
    order = refund.order
    title = f"Refund {refund.external_id} of order {order.external_id} could not be posted"
    retry = {"retry_name": "posting.refund", "retry_args": {"refund_id": refund.pk}}
    source_key = f"refund:{refund.pk}:v{refund.source_version}"
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return _spend_recorded(order, PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing))
    if order_entry(order) is None:
        problem = Problem("order_not_posted", f"Order {order.external_id} has not been posted yet.")
        return _refuse(PostingRefused([problem]), obj=refund, title=title, **retry)
    cancellation = JournalEntry.objects.filter(source_key=cancellation_key(order)).first()
    if cancellation is not None:
        exception_resolve_for_object(
            obj=refund, reason=f"Covered by the cancellation of order {order.external_id} (entry {cancellation.pk})."
        )
        return PostingOutcome(PostingStatus.COVERED)
    policy = policy_get()
    document = order_document(order=order)
    earlier = [refund_document(refund=other) for other in refunds_before(refund=refund)]
    this = refund_document(refund=refund)
    outcome = draft_post(
        source_key=source_key,
        version_prefix=f"refund:{refund.pk}:v",
        date=local_date(refund.processed_at),
        at=refund.processed_at,
        changed_at=refund.updated_at,
        build=lambda: build_refund(document, this, earlier, _builder_policy(policy)),
        policy=policy,
        obj=refund,
        title=title,
        sources=[
            {"type": "refund", "id": refund.pk, "external_id": refund.external_id, "raw_event_id": refund.raw_event_id},
            *order_sources(order),
        ],
        **retry,
    )
    if outcome.status == PostingStatus.POSTED:
        refund_posted_emit([outcome.entry])
    return _spend_recorded(order, outcome)  # the refund takes its share of the discounts' spend back


def journal_post_cancellation(*, order: Order) -> PostingOutcome:
    """Reverse what the order still has outstanding. With no refund posted that is the order's
    entry in full (its exact mirror); after refunds it is only what they did not already take back:
    the remaining revenue (net of the refunds' mirror of it), discounts, tax, shipping and the part
    of each payment not yet refunded, so nothing is reversed twice and clearing ends at zero."""
    source_key = cancellation_key(order)
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    if order.cancelled_at is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    original = order_entry(order)
    if original is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    date = local_date(order.cancelled_at)
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
                entry = reversal_write(entry=original, source_key=source_key, date=date, memo=memo)
            else:
                entry = outstanding_reverse(order=order, original=original, source_key=source_key, date=date, memo=memo)
    except PostingRefused as refused:
        return _refuse(
            refused,
            obj=order,
            title=f"Cancellation of order {order.external_id} could not be posted",
            retry_name="posting.cancellation",
            retry_args={"order_id": order.pk},
        )
    if entry is None:
        return _spend_recorded(order, PostingOutcome(PostingStatus.COVERED))
    return _spend_recorded(order, PostingOutcome(PostingStatus.POSTED, entry=entry))


def journal_post_processor_charge(*, charge: CanonicalProcessorCharge) -> PostingOutcome:
    """Post a processor's charge that pays a storefront order: it settles the order's payment
    clearing and books the fee at charge time; it never books a sale (the order did). Idempotent
    on `processor_charge:<charge id>`. ORDER_MISSING when the order is not ingested yet (the
    caller retries the event, then raises it); nothing is posted in that case."""
    source_key = processor_charge_key(charge.external_id)
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    found = processor_charge_order(charge=charge)
    if found is None:
        return PostingOutcome(PostingStatus.ORDER_MISSING)
    order, payment = found
    fee = charge.fee or Decimal(0)
    if fee and payout_booked_fee(charge.external_id):
        fee = Decimal(0)  # the payout posted first and booked it
    document = order_document(order=order)
    retry = {
        "retry_name": "connectors.replay" if charge.raw_event_id else None,
        "retry_args": {"event_id": charge.raw_event_id},
    }
    return draft_post(
        source_key=source_key,
        version_prefix=None,
        date=local_date(charge.created_at),
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
            *order_sources(order),
        ],
        **retry,
    )


def journal_post_payout(*, payout: Payout) -> PostingOutcome:
    document = payout_document(payout=payout)
    fees_booked = fees_booked_at_charge(
        references=[line.reference for line in document.lines if line.type == PayoutLine.Type.CHARGE]
    )
    at = dt.datetime.combine(payout.arrival_date, dt.time(12), tzinfo=tenant_zone())
    return draft_post(
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
