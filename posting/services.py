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
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction

from commerce.models import Order, Payout, PayoutLine, Refund
from commerce.selectors import order_document, payout_document, refund_document, refunds_before
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
from tenants.models import User
from tenants.services import audit_diff, audit_record_in_tenant
from tenants.usage import usage_count
from triage.services import exception_resolve_for_object


class PostingStatus(enum.StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"
    NOT_DUE = "not_due"
    REFUSED = "refused"


@dataclass(frozen=True)
class PostingOutcome:
    status: PostingStatus
    entry: JournalEntry | None = None
    problems: list[Problem] = field(default_factory=list)
    reversed_entries: list[JournalEntry] = field(default_factory=list)


def policy_get() -> PostingPolicy:
    policy, _ = PostingPolicy.objects.get_or_create(singleton=1)
    return policy


POLICY_FIELDS = ("recognise_on", "discounts", "allocation", "mode", "batch_window", "cutoff_hour")


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
    return Policy(discounts=policy.discounts, allocation=policy.allocation)


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
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=draft.currency,
        memo=draft.memo[:255],
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
    reversal = JournalEntry.objects.create(
        source_key=source_key,
        date=date,
        currency=entry.currency,
        memo=memo[:255],
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


def _superseded(prefix: str, current_key: str) -> list[JournalEntry]:
    """Entries of earlier versions of the same document that are still in force."""
    return list(
        JournalEntry.objects.filter(source_key__startswith=prefix, reverses__isnull=True, reversals__isnull=True)
        .exclude(source_key=current_key)
        .exclude(source_key__endswith=":cancel")
        .order_by("pk")
    )


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
) -> PostingOutcome:
    """`build` runs only when the entry is not posted yet, so replays cost one query."""
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    try:
        draft = build()
        accounts = _resolve(draft, account_resolver(at=at))
    except PostingRefused as refused:
        return _refuse(refused, obj=obj, title=title, retry_name=retry_name, retry_args=retry_args)
    policy = policy or policy_get()
    reversed_entries = []
    try:
        with transaction.atomic():
            batch = _batch_for(at=at, currency=draft.currency, policy=policy)
            if version_prefix is not None:
                for old in _superseded(version_prefix, source_key):
                    reversed_entries.append(
                        _reversal_write(
                            entry=old,
                            source_key=f"{old.source_key}:superseded",
                            date=date,
                            memo=f"Superseded by {source_key}: {old.memo}",
                        )
                    )
            entry = _entry_write(
                source_key=source_key, date=date, draft=draft, accounts=accounts, sources=sources, batch=batch
            )
    except IntegrityError:
        existing = JournalEntry.objects.filter(source_key=source_key).first()
        if existing is None:
            raise
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    exception_resolve_for_object(obj=obj, reason=f"Posted as journal entry {entry.pk}.")
    for warning in draft.warnings:
        posting_problem_raise(problem=warning, obj=obj, title=title)
    return PostingOutcome(PostingStatus.POSTED, entry=entry, reversed_entries=reversed_entries)


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
    entry = JournalEntry.objects.create(
        source_key=source_key,
        date=local_start.date(),
        currency=batch.currency,
        memo=f"Summary of {count} entries from {local_start:%Y-%m-%d %H:%M}",
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
    """Post the order's current version when the policy recognises it (paid or fulfilled). An
    earlier version already posted is reversed in the same transaction."""
    policy = policy_get()
    at = order_recognised_at(order=order, policy=policy)
    if at is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    return _post(
        source_key=f"order:{order.pk}:v{order.source_version}",
        version_prefix=f"order:{order.pk}:v",
        date=_local_date(at),
        at=at,
        build=lambda: build_order(order_document(order=order), _builder_policy(policy)),
        policy=policy,
        obj=order,
        title=f"Order {order.external_id} could not be posted",
        retry_name="posting.order",
        retry_args={"order_id": order.pk},
        sources=_order_sources(order),
    )


def _order_entry(order: Order) -> JournalEntry | None:
    return JournalEntry.objects.filter(source_key=f"order:{order.pk}:v{order.source_version}").first()


def journal_post_refund(*, refund: Refund) -> PostingOutcome:
    order = refund.order
    title = f"Refund {refund.external_id} of order {order.external_id} could not be posted"
    retry = {"retry_name": "posting.refund", "retry_args": {"refund_id": refund.pk}}
    if _order_entry(order) is None:
        problem = Problem("order_not_posted", f"Order {order.external_id} has not been posted yet.")
        return _refuse(PostingRefused([problem]), obj=refund, title=title, **retry)
    policy = policy_get()
    document = order_document(order=order)
    earlier = [refund_document(refund=other) for other in refunds_before(refund=refund)]
    this = refund_document(refund=refund)
    return _post(
        source_key=f"refund:{refund.pk}:v{refund.source_version}",
        version_prefix=f"refund:{refund.pk}:v",
        date=_local_date(refund.processed_at),
        at=refund.processed_at,
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


def journal_post_cancellation(*, order: Order) -> PostingOutcome:
    """Reverse the order's posted entry in full. Refused when refunds were already posted: those
    reversed part of it, so a full reversal would take the same amounts back twice."""
    title = f"Cancellation of order {order.external_id} could not be posted"
    source_key = f"order:{order.pk}:cancel"
    existing = JournalEntry.objects.filter(source_key=source_key).first()
    if existing is not None:
        return PostingOutcome(PostingStatus.ALREADY_POSTED, entry=existing)
    if order.cancelled_at is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    original = _order_entry(order)
    if original is None:
        return PostingOutcome(PostingStatus.NOT_DUE)
    refund_keys = [f"refund:{pk}:v" for pk in order.refunds.values_list("pk", flat=True)]
    if any(JournalEntry.objects.filter(source_key__startswith=key).exists() for key in refund_keys):
        problem = Problem("invalid", f"Order {order.external_id} has posted refunds; refund the rest instead.")
        return _refuse(
            PostingRefused([problem]),
            obj=order,
            title=title,
            retry_name="posting.cancellation",
            retry_args={"order_id": order.pk},
        )
    with transaction.atomic():
        entry = _reversal_write(
            entry=original,
            source_key=source_key,
            date=_local_date(order.cancelled_at),
            memo=f"Cancellation of order {order.external_id}",
        )
    return PostingOutcome(PostingStatus.POSTED, entry=entry)


def journal_post_payout(*, payout: Payout) -> PostingOutcome:
    document = payout_document(payout=payout)
    at = dt.datetime.combine(payout.arrival_date, dt.time(12), tzinfo=tenant_zone())
    return _post(
        source_key=f"payout:{payout.pk}:v{payout.source_version}",
        version_prefix=f"payout:{payout.pk}:v",
        date=payout.arrival_date,
        at=at,
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


def _posted_clearing_credit(entry: JournalEntry) -> Decimal:
    return entry.lines.filter(role="payment_clearing").aggregate(total=models.Sum("credit"))["total"] or Decimal(0)


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
    entry = JournalEntry.objects.filter(source_key=f"refund:{refund.pk}:v{refund.source_version}").first()
    if entry is None:
        return None, "the refund is not posted"
    return -quantize(_posted_clearing_credit(entry), refund.currency), ""


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
    if not differences:
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
