"""Reads of the built-in ledger: journals, trial balance, account ledger. Run inside the tenant schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from commerce.models import Order, Payment, Payout, PayoutLine, Refund
from commerce.selectors import order_document
from core.money import quantize
from core.selectors import status_search_filter
from core.timeseries import counts_per_day
from mappings.models import Account, MappingSet, PostingRole
from mappings.selectors import AccountResolver, Unmapped
from posting.builders import Policy, PostingRefused, build_order
from posting.erp.models import ErpPush
from posting.models import JournalEntry, JournalLine, PostingBatch, PostingPolicy, Reconciliation
from triage.models import OPEN_STATUSES
from triage.models import Exception as TriageException


def journals_list(*, status: str | None = None, search: str = "") -> QuerySet[JournalEntry]:
    queryset = JournalEntry.objects.annotate(total=Sum("lines__debit")).order_by("-date", "-pk")
    return status_search_filter(queryset, status=status, search=search, search_fields=("source_key", "memo"))


def journal_detail(*, entry_id: int) -> JournalEntry | None:
    lines = JournalLine.objects.select_related("account").order_by("position")
    return (
        JournalEntry.objects.select_related("reverses")
        .prefetch_related(Prefetch("lines", queryset=lines), "reversals")
        .filter(pk=entry_id)
        .first()
    )


@dataclass(frozen=True)
class TrialBalanceRow:
    code: str
    name: str
    type: str
    currency: str
    debit: Decimal
    credit: Decimal
    account_id: int | None = None  # for a link to the account's ledger

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


def trial_balance(*, as_of: dt.date | None = None) -> list[TrialBalanceRow]:
    """Per account and currency: total debits, credits and the balance (debit positive) up to and
    including `as_of`. Accounts with no lines are left out, and so are draft entries (documents
    waiting in an open batch: the batch's summary entry carries them once closed)."""
    lines = JournalLine.objects.exclude(entry__status=JournalEntry.Status.DRAFT)
    if as_of is not None:
        lines = lines.filter(entry__date__lte=as_of)
    totals = (
        lines.values("account_id", "account__code", "account__name", "account__type", "entry__currency")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by("account__code", "entry__currency")
    )
    return [
        TrialBalanceRow(
            code=row["account__code"],
            name=row["account__name"],
            type=row["account__type"],
            currency=row["entry__currency"],
            debit=quantize(row["debit"], row["entry__currency"]),
            credit=quantize(row["credit"], row["entry__currency"]),
            account_id=row["account_id"],
        )
        for row in totals
    ]


@dataclass(frozen=True)
class LedgerRow:
    date: dt.date
    entry_id: int
    source_key: str
    description: str
    currency: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


def account_ledger(
    *, account: Account, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[dict[str, Decimal], list[LedgerRow]]:
    """Opening balance per currency before `start`, then every line in date order with the
    running balance (debit positive) of its currency."""
    lines = (
        JournalLine.objects.filter(account=account)
        .exclude(entry__status=JournalEntry.Status.DRAFT)
        .select_related("entry")
    )
    opening: dict[str, Decimal] = {}
    if start is not None:
        for row in (
            lines.filter(entry__date__lt=start)
            .values("entry__currency")
            .annotate(debit=Sum("debit"), credit=Sum("credit"))
        ):
            opening[row["entry__currency"]] = quantize(row["debit"] - row["credit"], row["entry__currency"])
        lines = lines.filter(entry__date__gte=start)
    if end is not None:
        lines = lines.filter(entry__date__lte=end)
    running = dict(opening)
    rows = []
    for line in lines.order_by("entry__date", "entry_id", "position"):
        currency = line.entry.currency
        debit, credit = quantize(line.debit, currency), quantize(line.credit, currency)
        running[currency] = running.get(currency, quantize(0, currency)) + debit - credit
        rows.append(
            LedgerRow(
                date=line.entry.date,
                entry_id=line.entry_id,
                source_key=line.entry.source_key,
                description=line.description,
                currency=currency,
                debit=debit,
                credit=credit,
                balance=running[currency],
            )
        )
    return opening, rows


def policy_read() -> PostingPolicy:
    """The tenant's policy, or the defaults when none was saved yet (a read never writes)."""
    return PostingPolicy.read()


@dataclass(frozen=True)
class PreviewLine:
    role: str
    description: str
    dimensions: dict[str, str]
    debit: Decimal
    credit: Decimal
    account: Account | None  # None: no rule of the set maps this role under these conditions


@dataclass(frozen=True)
class JournalPreview:
    currency: str
    memo: str
    lines: list[PreviewLine]
    problems: list[str]

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal(0))

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal(0))

    @property
    def postable(self) -> bool:
        return bool(self.lines) and not self.problems


def journal_preview(*, order: Order, mapping_set: MappingSet) -> JournalPreview:
    """The journal `order` would post under `mapping_set` (typically a draft) and the current
    policy, built by the same builders as posting but written nowhere."""
    policy = policy_read()
    try:
        draft = build_order(
            order_document(order=order), Policy(discounts=policy.discounts, allocation=policy.allocation)
        )
    except PostingRefused as refused:
        return JournalPreview(order.currency, "", [], [problem.message for problem in refused.problems])
    resolver = AccountResolver(mapping_set)
    lines, problems = [], []
    for line in draft.lines:
        try:
            account = resolver.resolve(line.role, line.conditions_dict)
        except Unmapped as error:
            account = None
            problems.append(str(error))
        lines.append(PreviewLine(line.role, line.description, line.conditions_dict, line.debit, line.credit, account))
    problems.extend(warning.message for warning in draft.warnings)
    return JournalPreview(draft.currency, draft.memo, lines, problems)


def batches_list(*, status: str | None = None) -> QuerySet[PostingBatch]:
    queryset = PostingBatch.objects.annotate(entry_count=Count("entries")).order_by("-window_start", "-pk")
    return queryset.filter(status=status) if status else queryset


@dataclass(frozen=True)
class BatchSummaryRow:
    account: Account
    role: str
    dimensions: dict
    debit: Decimal
    credit: Decimal


def batches_waiting() -> list[PostingBatch]:
    """Open batches, soonest to close first, with how many entries each holds (the dashboard's list)."""
    return list(
        PostingBatch.objects.filter(status=PostingBatch.Status.OPEN)
        .annotate(entry_count=Count("entries"))
        .order_by("window_end", "currency")[:20]
    )


def batch_summary(*, batch: PostingBatch) -> list[BatchSummaryRow]:
    """Per account, role and dimensions: what the batch's documents add up to (open or closed)."""
    totals = (
        JournalLine.objects.filter(entry__batch=batch)
        .values("account_id", "role", "dimensions")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .order_by("account_id", "role", "dimensions")
    )
    accounts = {account.pk: account for account in Account.objects.filter(journal_lines__entry__batch=batch)}
    return [
        BatchSummaryRow(
            account=accounts[row["account_id"]],
            role=row["role"],
            dimensions=row["dimensions"],
            debit=quantize(row["debit"], batch.currency),
            credit=quantize(row["credit"], batch.currency),
        )
        for row in totals
    ]


def batch_summary_entry(*, batch: PostingBatch) -> JournalEntry | None:
    return JournalEntry.objects.filter(source_key=f"batch:{batch.pk}").first()


SOURCE_MODELS = {"order": Order, "refund": Refund, "payout": Payout}


def source_document(*, kind: str, pk: int) -> Order | Refund | Payout | None:
    model = SOURCE_MODELS.get(kind)
    return model.objects.filter(pk=pk).first() if model is not None else None


def entries_for_source(*, kind: str, pk: int) -> QuerySet[JournalEntry]:
    """Every journal entry with a line drawn from this document (its own, reversals, refunds)."""
    entry_ids = JournalLine.objects.filter(sources__contains=[{"type": kind, "id": pk}]).values("entry_id")
    return JournalEntry.objects.filter(pk__in=entry_ids).annotate(total=Sum("lines__debit")).order_by("date", "pk")


def orders_recent() -> QuerySet[Order]:
    return Order.objects.order_by("-placed_at", "-pk")


# --- payout reconciliation (issue 14 item 12) ---------------------------------------------------


def payouts_list(*, status: str | None = None, search: str = "") -> QuerySet[Payout]:
    """Payouts, newest first, with their reconciliation's status (`unmatched` when never checked),
    matched line count and unexplained difference."""
    queryset = (
        Payout.objects.select_related("reconciliation")
        .annotate(
            line_count=Count("lines", distinct=True),
            reconciliation_status=Coalesce(F("reconciliation__status"), Value("unmatched")),
        )
        .order_by("-arrival_date", "-pk")
    )
    if status:
        queryset = queryset.filter(reconciliation_status=status)
    return status_search_filter(queryset, status=None, search=search, search_fields=("external_id", "gateway"))


def reconciliations_list() -> QuerySet[Reconciliation]:
    return Reconciliation.objects.select_related("payout").order_by("-checked_at", "-pk")


@dataclass(frozen=True)
class PayoutReconciliationView:
    payout: Payout
    reconciliation: Reconciliation | None
    lines: list[dict]
    entries: list[JournalEntry]
    exceptions: list  # open triage exceptions about this payout
    unmatched: list[dict]
    in_suspense: list[dict]


def payout_open_exceptions(*, payout: Payout) -> list:
    content_type = ContentType.objects.get_for_model(Payout)
    return list(
        TriageException.objects.filter(
            status__in=OPEN_STATUSES,
            occurrences__content_type=content_type,
            occurrences__object_id=str(payout.pk),
            occurrences__resolved_at__isnull=True,
        )
        .distinct()
        .order_by("pk")
    )


def payout_line_row(position: int, line: PayoutLine, currency: str) -> dict:
    """A payout line as a reconciliation row, before it is matched: what the payout states."""
    return {
        "line": position,
        "line_id": line.pk,
        "type": line.type,
        "vendor_type": line.vendor_type,
        "reference": line.reference,
        "description": line.description,
        "amount": str(quantize(line.amount, currency)),
        "fee": str(quantize(line.fee, currency)),
        "role": "",
        "document": None,
        "journal_entry": None,
        "journal_lines": [],
        "expected": None,
        "difference": "0",
        "reason": "",
    }


def payout_reconciliation(*, payout_id: int) -> PayoutReconciliationView | None:
    """One payout with every line and its match as last checked (lines never checked are listed
    from the payout itself as unmatched), the payout's journal entries and open exceptions."""
    payout = Payout.objects.select_related("reconciliation").filter(pk=payout_id).first()
    if payout is None:
        return None
    reconciliation = getattr(payout, "reconciliation", None)
    if reconciliation is not None and reconciliation.lines:
        lines = list(reconciliation.lines)
    else:
        lines = [
            {
                **payout_line_row(position, line, payout.currency),
                "difference": str(quantize(line.amount, payout.currency)),
                "state": "unmatched",
                "reason": "not reconciled yet",
            }
            for position, line in enumerate(payout.lines.order_by("position"))
        ]
    entries = list(
        JournalEntry.objects.filter(source_key__startswith=f"payout:{payout.pk}:v")
        .annotate(total=Sum("lines__debit"))
        .order_by("pk")
    )
    return PayoutReconciliationView(
        payout=payout,
        reconciliation=reconciliation,
        lines=lines,
        entries=entries,
        exceptions=payout_open_exceptions(payout=payout),
        unmatched=[line for line in lines if line.get("state") == "unmatched"],
        in_suspense=[line for line in lines if line.get("state") == "suspense"],
    )


@dataclass(frozen=True)
class UnsettledPayment:
    order_id: int
    order: str
    gateway: str
    currency: str
    amount: Decimal
    paid_at: dt.datetime
    days: int


def captured_not_paid_out(*, days: int = 7, now: dt.datetime | None = None) -> list[UnsettledPayment]:
    """Card payments (not gift cards) captured on orders paid more than `days` ago whose settlement
    has appeared in no payout: no payout charge line references the order for that gateway.
    Cancelled orders stay listed: their capture still needs a payout or a refund to settle."""

    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    settled = PayoutLine.objects.filter(
        type=PayoutLine.Type.CHARGE, reference=OuterRef("order__external_id"), payout__gateway=OuterRef("gateway")
    )
    rows = (
        Payment.objects.filter(is_gift_card=False, amount__gt=0, order__paid_at__lte=cutoff)
        .annotate(settled=Exists(settled))
        .filter(settled=False)
        .values("order_id", "order__external_id", "gateway", "order__currency", "order__paid_at")
        .annotate(total=Sum("amount"))
        .order_by("order__paid_at", "order_id", "gateway")
    )
    current = now or timezone.now()
    return [
        UnsettledPayment(
            order_id=row["order_id"],
            order=row["order__external_id"],
            gateway=row["gateway"],
            currency=row["order__currency"],
            amount=quantize(row["total"], row["order__currency"]),
            paid_at=row["order__paid_at"],
            days=(current - row["order__paid_at"]).days,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class PartnerPayoutRow:
    tenant_slug: str
    tenant_name: str
    tenant_host: str | None  # the tenant portal's primary domain, for a link to the payout's page
    payout_id: int
    external_id: str
    gateway: str
    arrival_date: dt.date
    amount: Decimal
    currency: str
    status: str
    matched: int
    line_count: int
    difference: Decimal | None


@dataclass(frozen=True)
class PartnerPayoutPage:
    rows: list[PartnerPayoutRow]
    number: int
    num_pages: int
    count: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def partner_payouts(
    *, tenants, status: str | None = None, search: str = "", page: int = 1, per_page: int = 50
) -> PartnerPayoutPage:
    """Payouts of several tenants, newest first, read in each tenant's own schema. Each schema gives
    at most the first `page * per_page` rows, which is all the merged page can need."""

    page = max(page, 1)
    rows: list[PartnerPayoutRow] = []
    count = 0
    for tenant in tenants:
        if not schema_exists(tenant.schema_name):
            continue
        primary = next((domain for domain in tenant.domains.all() if domain.is_primary), None)
        host = primary.domain if primary is not None else None
        with tenant_context(tenant):
            queryset = payouts_list(status=status, search=search)
            count += queryset.count()
            for payout in queryset[: page * per_page]:
                reconciliation = getattr(payout, "reconciliation", None)
                rows.append(
                    PartnerPayoutRow(
                        tenant_slug=tenant.slug,
                        tenant_name=tenant.name,
                        tenant_host=host,
                        payout_id=payout.pk,
                        external_id=payout.external_id,
                        gateway=payout.gateway,
                        arrival_date=payout.arrival_date,
                        amount=quantize(payout.amount, payout.currency),
                        currency=payout.currency,
                        status=payout.reconciliation_status,
                        matched=reconciliation.matched if reconciliation else 0,
                        line_count=payout.line_count,
                        difference=quantize(reconciliation.difference, payout.currency) if reconciliation else None,
                    )
                )
    rows.sort(key=lambda row: (row.arrival_date, row.tenant_slug, row.payout_id), reverse=True)
    num_pages = max((count + per_page - 1) // per_page, 1)
    page = min(page, num_pages)
    return PartnerPayoutPage(
        rows=rows[(page - 1) * per_page : page * per_page], number=page, num_pages=num_pages, count=count
    )


# ---- reads for the portal's dashboard and order trace (portal/dashboard.py, portal/trace.py) ----


def journals_created_per_day(*, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> dict[dt.date, int]:
    """Journal entries created in [start, end), counted per day in `tz`."""
    return counts_per_day(JournalEntry.objects.all(), "created_at", start=start, end=end, tz=tz)


def journals_unacknowledged_counts() -> dict[str, int]:
    """Journals not yet acknowledged by the ERP, by state (ready, pushed, failed)."""
    waiting = ("ready", "pushed", "failed")
    rows = JournalEntry.objects.filter(status__in=waiting).values("status").annotate(n=Count("pk"))
    found = {row["status"]: row["n"] for row in rows}
    return {status: found.get(status, 0) for status in waiting}


def order_entry_ids(*, order_ids: set[int]) -> dict[int, int]:
    """Journal entry pk → order pk for the orders' own entries (not cancellations or reversals)."""
    found: dict[int, int] = {}
    for entry_pk, key in JournalEntry.objects.filter(source_key__startswith="order:").values_list("pk", "source_key"):
        parts = key.split(":")
        if len(parts) == 3 and parts[2].startswith("v") and int(parts[1]) in order_ids:
            found[entry_pk] = int(parts[1])
    return found


def entries_first_acked_at(*, entry_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Entry pk → when the ERP first acknowledged it (entries never acknowledged are left out)."""
    acked: dict[int, dt.datetime] = {}
    for entry_pk, acked_at in ErpPush.objects.filter(
        entry_id__in=list(entry_ids), status=ErpPush.Status.ACKED, acked_at__isnull=False
    ).values_list("entry_id", "acked_at"):
        acked[entry_pk] = min(acked_at, acked.get(entry_pk, acked_at))
    return acked


def entries_created_at(*, entry_ids: Iterable[int]) -> dict[int, dt.datetime]:
    return dict(JournalEntry.objects.filter(pk__in=list(entry_ids)).values_list("pk", "created_at"))


def entries_with_vendor_funded_receivable(*, entry_ids: Iterable[int]) -> set[int]:
    """The entries that debit the vendor-funded discount receivable (a claim on the vendor)."""
    return set(
        JournalLine.objects.filter(
            entry_id__in=list(entry_ids), role=PostingRole.VENDOR_FUNDED_DISCOUNT_RECEIVABLE, debit__gt=0
        ).values_list("entry_id", flat=True)
    )


def reconciliations_matched(*, arrived_since: dt.date) -> list[tuple[dt.datetime, dt.date]]:
    """(checked at, payout arrival date) of each matched reconciliation of payouts arrived since."""
    return list(
        Reconciliation.objects.filter(
            payout__arrival_date__gte=arrived_since, status=Reconciliation.Status.MATCHED
        ).values_list("checked_at", "payout__arrival_date")
    )


def order_journal_entries(*, order: Order, refund_ids: Iterable[int]) -> list[JournalEntry]:
    """Every entry posted for the order and its refunds, with their lines and accounts."""
    keys = Q(source_key__startswith=f"order:{order.pk}:")
    for refund_pk in refund_ids:
        keys |= Q(source_key__startswith=f"refund:{refund_pk}:")
    return list(JournalEntry.objects.filter(keys).prefetch_related("lines__account").order_by("created_at", "pk"))


def entries_erp_pushes(*, entries: Iterable[JournalEntry]) -> dict[int, list[ErpPush]]:
    """Entry pk → its ERP pushes, oldest first."""
    pushes: dict[int, list[ErpPush]] = {}
    for push in ErpPush.objects.filter(entry__in=list(entries)).order_by("created_at"):
        pushes.setdefault(push.entry_id, []).append(push)
    return pushes


def order_payout_lines(*, order: Order) -> list[PayoutLine]:
    """The payout lines that settle the order (matched by reference), oldest payout first."""
    return list(
        PayoutLine.objects.filter(reference=order.external_id, payout__currency=order.currency)
        .select_related("payout", "payout__reconciliation")
        .order_by("payout__arrival_date")
    )


def orders_of_entries(*, entry_ids: Iterable[str]) -> dict[str, int]:
    """Entry id (as triage stores it) → order pk, for entries posting an order ("order:<pk>:v<n>")."""
    pks = {int(pk) for pk in entry_ids if str(pk).isdigit()}
    keys = JournalEntry.objects.filter(pk__in=pks, source_key__startswith="order:").values_list("pk", "source_key")
    return {str(pk): int(key.split(":")[1]) for pk, key in keys if key.split(":")[1].isdigit()}


def entry_balance(*, entry: JournalEntry) -> Decimal:
    """Debits less credits of one entry (zero for every entry the balance trigger let through)."""
    totals = entry.lines.aggregate(debit=Sum("debit"), credit=Sum("credit"))
    return (totals["debit"] or Decimal(0)) - (totals["credit"] or Decimal(0))
