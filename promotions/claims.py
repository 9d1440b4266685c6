"""Vendor claims for vendor-funded promotions (issue 20): what the vendor owes for a period, made
once per period and currency (asking again returns the same claim), exported as CSV (one row per
order), and reconciled against what the vendor paid. A claim still underpaid `claim_overdue_days`
after it was made is raised into triage once, by the periodic job `promotions.claims_overdue`."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import MONEY
from core.money import quantize
from core.spreadsheet import csv_writer
from promotions.models import ClaimReceipt, Funding, Promotion, VendorClaim
from promotions.policy import promotion_policy_get
from promotions.redemption import FIRST_DAY, MAX_DAYS, claim_lines
from promotions.transitions import _audit, _who
from tenants.audit import audit_record_in_tenant
from tenants.models import User
from triage.models import Kind as TriageKind
from triage.services import exception_raise

ZERO = Decimal(0)
CSV_COLUMNS = (
    "order",
    "placed_on",
    "channel",
    "promotion",
    "version",
    "skus",
    "units",
    "discount",
    "vendor_funded",
    "currency",
)


@dataclass(frozen=True)
class ClaimState:
    """A claim with what was received against it."""

    claim: VendorClaim
    received: Decimal
    overdue_on: dt.date

    @property
    def outstanding(self) -> Decimal:
        return self.claim.amount - self.received

    @property
    def settled(self) -> bool:
        return self.outstanding <= 0


def _received_subquery():
    received = ClaimReceipt.objects.filter(claim=OuterRef("pk")).values("claim").annotate(total=Sum("amount"))
    money = DecimalField(**MONEY)
    return Coalesce(Subquery(received.values("total"), output_field=money), Value(ZERO), output_field=money)


def claims_with_received():
    """Every claim annotated with `received` (the sum of its receipts)."""
    return VendorClaim.objects.annotate(received=_received_subquery())


def claim_states(*, promotion: Promotion) -> list[ClaimState]:
    """The promotion's claims, newest period first, with received and outstanding."""
    days = promotion_policy_get().claim_overdue_days
    return [
        ClaimState(claim, claim.received, (claim.created_at + dt.timedelta(days=days)).date())
        for claim in claims_with_received().filter(promotion=promotion).order_by("-period_start", "currency")
    ]


def vendor_claim_get(*, promotion: Promotion, pk: int) -> VendorClaim | None:
    return VendorClaim.objects.filter(promotion=promotion, pk=pk).first()


def claim_totals(*, states: list[ClaimState]) -> list[dict]:
    """Per currency: claimed, received and outstanding over a promotion's claims (`claim_states`)."""
    totals: dict[str, dict] = {}
    for state in states:
        row = totals.setdefault(
            state.claim.currency, {"currency": state.claim.currency, "claimed": ZERO, "received": ZERO}
        )
        row["claimed"] += state.claim.amount
        row["received"] += state.received
    for row in totals.values():
        row["outstanding"] = row["claimed"] - row["received"]
    return [totals[currency] for currency in sorted(totals)]


def _vendor_funded(promotion: Promotion) -> str:
    """The vendor reference of the promotion's vendor-funded version (ValidationError when none is)."""
    version = promotion.published_version or promotion.current_version
    funded = promotion.versions.filter(funding=Funding.VENDOR).order_by("-number").first()
    if funded is None:
        raise ValidationError({"promotion": "Only a vendor-funded promotion has claims."}, code="not_vendor_funded")
    return (version.funding_vendor_ref if version and version.funding == Funding.VENDOR else "") or (
        funded.funding_vendor_ref
    )


def _period_check(promotion: Promotion, start: dt.date, end: dt.date, today: dt.date) -> None:
    if start < FIRST_DAY:
        raise ValidationError({"period_start": f"A period from {FIRST_DAY} on."}, code="invalid")
    if end < start:
        raise ValidationError({"period_end": "The period ends before it starts."}, code="invalid")
    if (end - start).days >= MAX_DAYS:
        raise ValidationError({"period_end": f"A period of at most {MAX_DAYS} days."}, code="invalid")
    if end >= today:
        raise ValidationError({"period_end": "Claim a period that has ended (up to yesterday)."}, code="invalid")
    overlapping = VendorClaim.objects.filter(promotion=promotion, period_start__lte=end, period_end__gte=start).exclude(
        period_start=start, period_end=end
    )
    claim = overlapping.first()
    if claim is not None:
        raise ValidationError(
            {"period_start": f"The period overlaps the claim of {claim.period_start} to {claim.period_end}."},
            code="overlap",
        )


@transaction.atomic
def vendor_claim_create(
    *,
    promotion: Promotion,
    period_start: dt.date,
    period_end: dt.date,
    tz: dt.tzinfo,
    actor: User | None = None,
    actor_label: str | None = None,
) -> tuple[list[VendorClaim], bool]:
    """Claim the vendor-funded discounts of the orders redeemed in the period (local dates in `tz`),
    one claim per currency. Once per period: the same period again returns its claims unchanged
    (created False); an overlapping period is refused. Locks the promotion."""
    promotion = Promotion.objects.select_for_update().get(pk=promotion.pk)
    vendor_ref = _vendor_funded(promotion)
    _period_check(promotion, period_start, period_end, timezone.now().astimezone(tz).date())
    existing = list(VendorClaim.objects.filter(promotion=promotion, period_start=period_start, period_end=period_end))
    if existing:
        return existing, False
    per_currency: dict[str, tuple[Decimal, set[int]]] = {}
    for line in claim_lines(promotion=promotion, start=period_start, end=period_end, tz=tz):
        amount, orders = per_currency.get(line.currency, (ZERO, set()))
        per_currency[line.currency] = (amount + line.vendor_funded, orders | {line.order_id})
    if not per_currency:
        raise ValidationError({"period_start": "No vendor-funded redemptions in this period."}, code="empty")
    author = _who(actor, actor_label)
    claims = [
        VendorClaim.objects.create(
            promotion=promotion,
            vendor_ref=vendor_ref,
            period_start=period_start,
            period_end=period_end,
            currency=currency,
            amount=quantize(amount, currency),
            orders=len(orders),
            author_id=author.id,
            author_email=author.email,
        )
        for currency, (amount, orders) in sorted(per_currency.items())
    ]
    _audit(
        promotion,
        "claim",
        actor=actor,
        actor_label=actor_label,
        changes={
            "period": f"{period_start} to {period_end}",
            "claimed": {c.currency: str(c.amount) for c in claims},
        },
    )
    return claims, True


def redemptions_csv(
    *, promotion: Promotion, start: dt.date, end: dt.date, tz: dt.tzinfo, currency: str | None = None
) -> str:
    """The vendor-funded redemptions of the local days `start` to `end` as CSV, one row per order and
    version (formula-like cells neutralised)."""
    stream = io.StringIO()
    writer = csv_writer(stream)
    writer.writerow(CSV_COLUMNS)
    for line in claim_lines(promotion=promotion, start=start, end=end, tz=tz, currency=currency):
        writer.writerow(
            (
                line.order,
                line.placed_on.isoformat(),
                line.channel,
                promotion.key,
                line.version,
                " ".join(line.skus),
                line.units,
                line.discount,
                line.vendor_funded,
                line.currency,
            )
        )
    return stream.getvalue()


def vendor_claim_filename(claim: VendorClaim) -> str:
    """The name the claim's CSV is downloaded under (the page and the API)."""
    return f"{claim.promotion.key}-claim-{claim.period_start}-{claim.period_end}-{claim.currency}.csv"


@transaction.atomic
def vendor_claim_export(*, claim: VendorClaim, tz: dt.tzinfo) -> str:
    """The claim's CSV; the first export is recorded on the claim (`exported_at`)."""
    if claim.exported_at is None:
        VendorClaim.objects.filter(pk=claim.pk, exported_at__isnull=True).update(exported_at=timezone.now())
    return redemptions_csv(
        promotion=claim.promotion, start=claim.period_start, end=claim.period_end, tz=tz, currency=claim.currency
    )


@transaction.atomic
def claim_receipt_record(
    *,
    claim: VendorClaim,
    amount: Decimal,
    received_on: dt.date,
    reference: str = "",
    actor: User | None = None,
    actor_label: str | None = None,
) -> ClaimReceipt:
    """Record an amount the vendor paid against the claim: more than zero, at most what is outstanding."""
    claim = VendorClaim.objects.select_for_update().get(pk=claim.pk)
    amount = Decimal(amount)
    if amount <= 0 or quantize(amount, claim.currency) != amount:
        raise ValidationError({"amount": f"An amount above zero in {claim.currency}'s minor unit."}, code="invalid")
    received = claim.receipts.aggregate(total=Sum("amount"))["total"] or ZERO
    outstanding = quantize(claim.amount - received, claim.currency)
    if amount > outstanding:
        raise ValidationError({"amount": f"More than the {outstanding} {claim.currency} outstanding."}, code="over")
    author = _who(actor, actor_label)
    receipt = ClaimReceipt.objects.create(
        claim=claim,
        amount=amount,
        received_on=received_on,
        reference=reference,
        author_id=author.id,
        author_email=author.email,
    )
    audit_record_in_tenant(
        actor=actor,
        actor_label=actor_label,
        action="promotion.claim_receipt",
        target=claim,
        changes={"amount": str(amount), "currency": claim.currency, "received_on": received_on.isoformat()},
    )
    return receipt


def _underpaid():
    """Claims not fully received and not raised yet."""
    return claims_with_received().filter(overdue_raised_at__isnull=True, amount__gt=F("received"))


def claims_overdue_next_due(now: dt.datetime) -> dt.datetime | None:
    """When the first underpaid claim not yet raised becomes overdue (None: none is pending)."""
    first = _underpaid().order_by("created_at").values_list("created_at", flat=True).first()
    return first + dt.timedelta(days=promotion_policy_get().claim_overdue_days) if first else None


@transaction.atomic
def vendor_claims_overdue_raise(*, now: dt.datetime | None = None) -> int:
    """Raise each claim still underpaid `claim_overdue_days` after it was made (once per claim)."""
    now = now or timezone.now()
    raised = 0
    overdue = _underpaid().filter(created_at__lte=now - dt.timedelta(days=promotion_policy_get().claim_overdue_days))
    for claim in overdue.select_related("promotion").select_for_update(of=("self",)):
        outstanding = quantize(claim.amount - claim.received, claim.currency)
        exception_raise(
            kind=TriageKind.RECONCILIATION,
            cause="vendor_claim_underpaid",
            obj=claim,
            title=f"{claim.promotion.key}: vendor claim {claim.period_start} to {claim.period_end} underpaid by "
            f"{outstanding} {claim.currency}",
            detail=f"Claimed {claim.amount} {claim.currency} from {claim.vendor_ref or 'the vendor'} on "
            f"{claim.created_at:%Y-%m-%d}; received {quantize(claim.received, claim.currency)}.",
            context={"claim": claim.pk, "outstanding": str(outstanding), "currency": claim.currency},
        )
        VendorClaim.objects.filter(pk=claim.pk).update(overdue_raised_at=now)
        raised += 1
    return raised
