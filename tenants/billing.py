"""Rate cards and monthly statements: what a partner re-bills each tenant for a month's metered
work (tenants.usage). A statement line is `max(0, used - included) * unit price`, rounded half-up
to the rate card currency's minor unit; the total is the base fee plus the rounded lines, so the
statement adds up exactly as printed. Gauges (active connections) bill the month's peak day."""

from __future__ import annotations

import calendar
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from core.money import MoneyError, currency_check, quantize
from core.spreadsheet import csv_writer
from tenants.audit import audit_record
from tenants.models import Partner, RateCard, RateCardLine, Tenant, UsageRecord
from tenants.usage import METRICS, usage_month_table


def month_bounds(month: date) -> tuple[date, date]:
    start = month.replace(day=1)
    return start, start.replace(day=calendar.monthrange(start.year, start.month)[1])


def rate_cards_for_partner(*, partner: Partner) -> dict[str, RateCard]:
    """Every plan's card (unsaved, zero-priced ones for plans not priced yet), lines prefetched."""
    cards = {card.plan: card for card in RateCard.objects.filter(partner=partner).prefetch_related("lines")}
    for plan in Tenant.Plan.values:
        cards.setdefault(plan, RateCard(partner=partner, plan=plan))
    return cards


@transaction.atomic
def rate_card_set(
    *,
    partner: Partner,
    plan: str,
    currency: str,
    monthly_fee: Decimal,
    lines: dict[str, tuple[int, Decimal]],
    actor=None,
    actor_label: str = "",
) -> RateCard:
    """Replace one plan's card: base fee and {metric: (included, unit price)}; audited as a diff."""
    errors: dict[str, list[str]] = {}
    if plan not in Tenant.Plan.values:
        errors["plan"] = [f"{plan!r} is not a plan."]
    try:
        currency_check(currency)
    except MoneyError as error:
        errors["currency"] = [str(error)]
    if monthly_fee < 0:
        errors["monthly_fee"] = ["The monthly fee cannot be negative."]
    for metric, (included, unit_price) in lines.items():
        if metric not in METRICS:
            errors.setdefault("lines", []).append(f"{metric!r} is not a usage metric.")
        elif included < 0 or unit_price < 0:
            errors.setdefault("lines", []).append(f"{metric}: included volume and unit price cannot be negative.")
    if errors:
        raise ValidationError(errors)
    card, _ = RateCard.objects.select_for_update().get_or_create(partner=partner, plan=plan)
    before = _card_values(card)
    card.currency, card.monthly_fee = currency, monthly_fee
    card.save()
    card.lines.all().delete()
    RateCardLine.objects.bulk_create(
        RateCardLine(rate_card=card, metric=metric, included=included, unit_price=unit_price)
        for metric, (included, unit_price) in sorted(lines.items())
        if included or unit_price
    )
    after = _card_values(card)
    changes = {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}
    if changes:
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action="partner.rate_card_set",
            target=card,
            partner=partner,
            changes=changes,
        )
    return card


def _card_values(card: RateCard) -> dict[str, str]:
    def price(value: Decimal) -> str:
        return str(Decimal(value).quantize(Decimal("0.0001")))

    values = {"currency": card.currency, "monthly_fee": price(card.monthly_fee)}
    for line in card.lines.all():
        values[f"{line.metric}.included"] = str(line.included)
        values[f"{line.metric}.unit_price"] = price(line.unit_price)
    return values


@dataclass(frozen=True)
class StatementLine:
    metric: str
    label: str
    used: int
    included: int
    billable: int
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    tenant_slug: str
    tenant_name: str
    plan: str
    month: str
    currency: str
    monthly_fee: Decimal
    lines: list[StatementLine]

    @property
    def total(self) -> Decimal:
        return self.monthly_fee + sum((line.amount for line in self.lines), Decimal(0))


def statements_for_month(*, partner: Partner, month: date, tenant: Tenant | None = None) -> list[Statement]:
    """One statement per tenant of the partner (or just `tenant`) for the calendar month."""
    start, end = month_bounds(month)
    usage = {row.slug: row.counts for row in usage_month_table(partner=partner, start=start, end=end)}
    cards = rate_cards_for_partner(partner=partner)
    labels = dict(UsageRecord.Metric.choices)
    tenants = Tenant.objects.filter(partner=partner).order_by("name")
    if tenant is not None:
        tenants = tenants.filter(pk=tenant.pk)
    statements = []
    for each in tenants:
        card = cards[each.plan]
        prices = {line.metric: line for line in card.lines.all()} if card.pk else {}
        counts = usage.get(each.slug, dict.fromkeys(METRICS, 0))
        lines = []
        for metric in METRICS:
            if metric == UsageRecord.Metric.API_CALLS and metric not in prices and not counts[metric]:
                continue
            price = prices.get(metric)
            included = price.included if price else 0
            unit_price = price.unit_price if price else Decimal(0)
            billable = max(0, counts[metric] - included)
            lines.append(
                StatementLine(
                    metric=metric,
                    label=labels[metric],
                    used=counts[metric],
                    included=included,
                    billable=billable,
                    unit_price=unit_price,
                    amount=quantize(unit_price * billable, card.currency),
                )
            )
        statements.append(
            Statement(
                tenant_slug=each.slug,
                tenant_name=each.name,
                plan=each.plan,
                month=start.strftime("%Y-%m"),
                currency=card.currency,
                monthly_fee=quantize(card.monthly_fee, card.currency),
                lines=lines,
            )
        )
    return statements


def statements_csv(*, statements: list[Statement]) -> str:
    """One row per tenant and metric, plus the base fee and the total: what a billing system imports."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(
        ["month", "tenant", "plan", "item", "used", "included", "billable", "unit_price", "amount", "currency"]
    )
    for statement in statements:
        base = [statement.month, statement.tenant_slug, statement.plan]
        writer.writerow([*base, "monthly_fee", "", "", "", "", statement.monthly_fee, statement.currency])
        for line in statement.lines:
            writer.writerow(
                [
                    *base,
                    line.metric,
                    line.used,
                    line.included,
                    line.billable,
                    line.unit_price.normalize() if line.unit_price else "0",
                    line.amount,
                    statement.currency,
                ]
            )
        writer.writerow([*base, "total", "", "", "", "", statement.total, statement.currency])
    return out.getvalue()
