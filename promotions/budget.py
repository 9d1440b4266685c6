"""Budgets and usage caps enforced (issue 20): what each posted order's discounts spent of a promotion,
warnings as the spend nears the budget, and a pause on every channel once the budget or the cap is
reached.

Spend is recorded by `promotion_spend_record(orders=...)`, called where an order is posted
(`posting.services.journal_post_order` and `journal_post_cancellation`). One `PromotionSpend` row per
(order, version) holds the order's current discount from that version, so posting an order again, a
new version of it or a replay never counts twice; a cancelled order spends nothing. A refund takes
its share of the discounts back (`promotions.refunded`, recorded again when the refund is posted:
`posting.services.journal_post_refund`), so budgets count net spend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from commerce.models import Funding, Order
from core.tasks import task_named
from promotions.deployment import promotion_pause
from promotions.models import ChannelDeployment, DiscountRedemption, Promotion, PromotionSpend
from promotions.policy import promotion_policy_get
from promotions.refunded import discount_line_ids, discounts_refunded, refunded_split
from promotions.selectors import LIVE_STATUSES, BudgetState, discount_funding, promotion_budget_state
from promotions.validation import _plain
from triage.models import Kind as TriageKind
from triage.services import exception_raise

ZERO = Decimal(0)


def _units(order: Order, discounts: list) -> int:
    """Units on the lines a version's discounts applied to (`discount_line_ids`)."""
    lines = list(order.lines.all())
    touched = set().union(*(discount_line_ids(discount, lines) for discount in discounts))
    return sum(line.quantity for line in lines if line.pk in touched)


def _order_spend(order: Order, matcher) -> dict[int, dict]:
    """{version id: {"version", "discount", "vendor_funded", "discounts", "units"}} for one order's
    discounts, net of what its refunds took back of them (promotions/refunded.py), rounded to the
    currency's minor unit."""
    spent: dict[int, dict] = {}
    if order.cancelled_at is not None:
        return spent
    taken = discounts_refunded(order)
    back: dict[int, Decimal] = defaultdict(Decimal)
    vendor_back: dict[int, Decimal] = defaultdict(Decimal)
    for discount in order.discounts.all():
        if not (discount.code or discount.promotion_id):
            continue
        match = matcher(discount.code, discount.promotion_id, order.placed_at)
        if match is None:
            continue
        row = spent.setdefault(
            match.version.pk, {"version": match.version, "discount": ZERO, "vendor_funded": ZERO, "discounts": []}
        )
        row["discount"] += discount.amount
        row["discounts"].append(discount)
        back[match.version.pk] += taken.get(discount.pk, ZERO)
        if discount.funding == Funding.VENDOR:
            row["vendor_funded"] += discount.amount
            vendor_back[match.version.pk] += taken.get(discount.pk, ZERO)
    if taken:
        back_rounded = refunded_split(back, order.currency)
        vendor_rounded = refunded_split(vendor_back, order.currency)
        for version_id, row in spent.items():
            # max: a rounded share may carry the remainder's minor unit past what a version gave
            row["discount"] = max(row["discount"] - back_rounded.get(version_id, ZERO), ZERO)
            vendor_funded = row["vendor_funded"] - vendor_rounded.get(version_id, ZERO)
            row["vendor_funded"] = min(max(vendor_funded, ZERO), row["discount"])
    for row in spent.values():
        row["units"] = _units(order, row["discounts"])
    return spent


@transaction.atomic
def promotion_spend_record(*, orders: Iterable[Order]) -> list[Promotion]:
    """Record what each order's discounts spent of the promotion versions they came from, then check
    each touched promotion's budget and cap. Idempotent: an order's rows are rewritten, never added to.
    The spend counted against the budget is the funder's share: the vendor's part of a vendor-funded
    version's discount, the whole discount of a merchant-funded one. Returns the promotions touched."""
    orders = [order for order in orders if order.pk is not None]
    if not orders or not Promotion.objects.filter(published_version__isnull=False).exists():
        return []
    cache: dict[tuple, object] = {}

    def matcher(code: str, promotion_id: str, at):
        key = (code.strip().upper(), promotion_id, at)
        if key not in cache:
            cache[key] = discount_funding(code=code, promotion_id=promotion_id, at=at)
        return cache[key]

    touched: set[int] = set()
    existing = PromotionSpend.objects.filter(order__in=orders)
    touched.update(existing.values_list("promotion_id", flat=True))
    redemptions: list[DiscountRedemption] = []
    prefetched = ("discounts", "lines", "payments", "refunds__lines")
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]).prefetch_related(*prefetched):
        spent = _order_spend(order, matcher)
        PromotionSpend.objects.filter(order=order).exclude(version_id__in=list(spent)).delete()
        for version_id, row in spent.items():
            version = row["version"]
            funded = version.funding == Funding.VENDOR
            PromotionSpend.objects.update_or_create(
                order=order,
                version_id=version_id,
                defaults={
                    "promotion_id": version.promotion_id,
                    "discount": row["discount"],
                    "vendor_funded": row["vendor_funded"],
                    "spend": row["vendor_funded"] if funded else row["discount"],
                    "units": row["units"],
                    "currency": order.currency,
                    "redeemed_at": order.placed_at,
                },
            )
            touched.add(version.promotion_id)
            redemptions.extend(
                DiscountRedemption(discount=d, order=order, promotion_id=version.promotion_id, version=version)
                for d in row["discounts"]
            )
    _redemptions_write(orders, redemptions)
    promotions = list(
        Promotion.objects.filter(pk__in=touched).select_related("published_version", "current_version").order_by("pk")
    )
    for promotion in promotions:
        version = promotion.published_version or promotion.current_version
        if version is not None and (version.budget is not None or version.usage_limit is not None):
            promotion_budget_check(promotion=promotion)  # locks the promotion: only when there is a limit
    return promotions


def _redemptions_write(orders: list[Order], redemptions: list[DiscountRedemption]) -> None:
    """Each discount's version, set-based: the orders' rows replaced in a fixed number of statements."""
    DiscountRedemption.objects.filter(order__in=orders).delete()
    DiscountRedemption.objects.bulk_create(redemptions)


def _budget_raise(promotion: Promotion, state: BudgetState, *, cause: str, title: str, **context: Any) -> None:
    """Raise the promotion's budget into triage: its state as the detail and the context."""
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause=cause,
        obj=promotion,
        title=f"{promotion.key}: {title}",
        detail=state.summary,
        context={"budget": state.as_context(), **context},
    )


def _reached(promotion: Promotion, state: BudgetState) -> None:
    """Mark the budget reached and raise it; the channels are paused by a task after commit, so no
    channel call runs inside the transaction that posted the order."""
    promotion.budget_reached_at = timezone.now()
    promotion.save(update_fields=["budget_reached_at", "updated_at"])
    _budget_raise(promotion, state, cause="budget_reached", title=f"{state.reached_text} — paused on every channel")
    transaction.on_commit(partial(budget_pause_send, promotion.pk))


def budget_pause_send(promotion_id: int) -> None:
    """After commit: the task that pauses the promotion on every channel."""
    task_named("promotions.budget_pause").delay(promotion_id)


@transaction.atomic
def promotion_budget_pause(*, promotion_id: int) -> list[ChannelDeployment]:
    """The task body: pause a promotion whose budget or cap is reached on every channel (the
    existing pause path, reason `budget`, audited). Nothing when a new version was published since."""
    promotion = Promotion.objects.select_for_update().filter(pk=promotion_id).first()
    if promotion is None or promotion.budget_reached_at is None or promotion.status not in LIVE_STATUSES:
        return []
    return promotion_pause(promotion=promotion, actor_label="budget", reason=ChannelDeployment.PauseReason.BUDGET)


@transaction.atomic
def promotion_budget_check(*, promotion: Promotion) -> BudgetState:
    """Warn once per threshold the spend (or redemptions) crossed; at 100 % pause every channel
    (the existing pause path, reason `budget`) and raise an exception. Locks the promotion."""
    promotion = Promotion.objects.select_for_update().get(pk=promotion.pk)
    state = promotion_budget_state(promotion=promotion)
    percent = state.percent
    if percent is None or promotion.budget_reached_at is not None:
        return state
    if percent >= 100:
        _reached(promotion, state)
        return state
    thresholds = sorted(int(t) for t in promotion_policy_get().budget_warn_percents or [] if 0 < int(t) < 100)
    crossed = [t for t in thresholds if percent >= t > promotion.budget_alert_percent]
    if crossed:
        promotion.budget_alert_percent = crossed[-1]
        promotion.save(update_fields=["budget_alert_percent", "updated_at"])
        title = f"{_plain(round(percent, 1))} % of its budget or usage cap used"
        _budget_raise(promotion, state, cause="budget_threshold", title=title, threshold=crossed[-1])
    return state


def promotion_spend_backfill(*, batch: int = 200) -> int:
    """Record again, a batch at a time, every order that has spend: fills the discounts' versions and
    the units of orders posted before they were recorded (idempotent). Returns the orders seen."""
    order_ids = list(PromotionSpend.objects.order_by("order_id").values_list("order_id", flat=True).distinct())
    for start in range(0, len(order_ids), batch):
        promotion_spend_record(orders=list(Order.objects.filter(pk__in=order_ids[start : start + batch])))
    return len(order_ids)
