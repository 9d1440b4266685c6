"""Where a paid order ships from (issue 19): routing rules per tenant and the allocation of an
order's lines to locations.

Rules are tried by priority (lowest number first). A rule applies to an order when the order's
destination fits its countries and regions (empty: any); it can ship a line when the SKU fits its
SKU list (empty: any) and its location has the stock (available-to-sell, the order's own
reservation added back). One location that can ship everything wins; otherwise the lines are split
over the locations in priority order; what no location can ship is a backorder, raised as an
inventory exception with a retry that routes the order again. Routing is all or nothing: a
backordered order gets no fulfilment request until all of it can ship."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Required, TypedDict, Unpack

import structlog
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from commerce.inventory import _audit
from commerce.models import (
    FulfilmentLine,
    FulfilmentPolicy,
    FulfilmentRequest,
    InventoryLocation,
    Order,
    Reservation,
    RoutingRule,
)
from commerce.selectors import available_to_sell, quantity_per_order_line
from tenants.models import User
from triage.models import OPEN_STATUSES, Occurrence
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

ROUTE_RETRY = "fulfilment.route"
# Causes counted by the allocation exception rate KPI (commerce.fulfilment_selectors).
ALLOCATION_CAUSES = ("fulfilment_backorder", "fulfilment_no_route")


# ---- rules ---------------------------------------------------------------------------------


def _codes(values: object, *, field_name: str, upper: bool = True) -> list[str]:
    if isinstance(values, str):
        values = [part for part in values.replace("\n", ",").split(",")]
    if not isinstance(values, list | tuple):
        raise ValidationError({field_name: ["A list of codes."]})
    cleaned = []
    for value in values:
        text = str(value).strip()
        if text:
            cleaned.append(text.upper() if upper else text)
    return sorted(set(cleaned))


class RoutingRuleFields(TypedDict, total=False):
    """What a routing rule is made of, as `routing_rule_create` and `routing_rule_update` take it:
    codes as a list or one comma- or line-separated string. An update rewrites every field, so the
    priority is required like the name and location: a rule's place in the order never falls back
    to the default unnoticed."""

    name: Required[str]
    location_id: Required[int]
    priority: Required[int]
    countries: list[str] | str
    regions: list[str] | str
    skus: list[str] | str
    fulfilment_connection_id: int | None
    active: bool


def _rule_clean(
    *,
    name: str,
    location_id: int,
    priority: int = 100,
    countries: list[str] | str = (),
    regions: list[str] | str = (),
    skus: list[str] | str = (),
    fulfilment_connection_id: int | None = None,
    active: bool = True,
) -> tuple[dict, dict]:
    """The rule's checked values (those its audit records) and its settings."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = ["A rule needs a name."]
    if not isinstance(priority, int) or priority < 0:
        errors["priority"] = ["A whole number, 0 or more."]
    if not InventoryLocation.objects.filter(pk=location_id).exists():
        errors["location"] = ["No such location."]
    values = {
        "countries": _codes(countries, field_name="countries"),
        "regions": _codes(regions, field_name="regions"),
        "skus": _codes(skus, field_name="skus", upper=False),
    }
    if any(len(code) != 2 or not code.isalpha() for code in values["countries"]):
        errors["countries"] = ["Two-letter ISO country codes, e.g. US, GB."]
    if errors:
        raise ValidationError(errors)
    values = {"name": name.strip()[:120], "priority": priority, "location_id": location_id, **values}
    return values, {"active": active, "fulfilment_connection_id": fulfilment_connection_id}


@transaction.atomic
def routing_rule_create(*, actor: User | None = None, **fields: Unpack[RoutingRuleFields]) -> RoutingRule:
    values, settings = _rule_clean(**fields)
    rule = RoutingRule.objects.create(**values, **settings)
    _audit(actor=actor, action="routing_rule.create", changes={"rule": rule.pk, **values})
    return rule


@transaction.atomic
def routing_rule_update(
    *, rule: RoutingRule, actor: User | None = None, **fields: Unpack[RoutingRuleFields]
) -> RoutingRule:
    values, settings = _rule_clean(**fields)
    for key, value in {**values, **settings}.items():
        setattr(rule, key, value)
    rule.save()
    _audit(actor=actor, action="routing_rule.update", changes={"rule": rule.pk, **values, "active": settings["active"]})
    return rule


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule, actor: User | None = None) -> None:
    _audit(actor=actor, action="routing_rule.delete", changes={"rule": rule.pk, "name": rule.name})
    rule.delete()


# ---- routing -------------------------------------------------------------------------------


@dataclass
class RoutingResult:
    requests: list[FulfilmentRequest] = field(default_factory=list)
    backordered: dict[str, int] = field(default_factory=dict)  # sku -> quantity no location can ship
    reason: str = ""  # why nothing was routed ("" when requests were made)


def rule_applies(rule: RoutingRule, order: Order) -> bool:
    if rule.countries and order.ship_country.upper() not in rule.countries:
        return False
    return not rule.regions or order.ship_region.upper() in {region.upper() for region in rule.regions}


def _needed(order: Order) -> list[tuple[int, str, str, int]]:
    """(line id, external id, sku, quantity still to ship) of the order's shippable lines."""
    shipped = quantity_per_order_line(rows=FulfilmentLine.objects.filter(fulfilment__order=order))
    needed = []
    for line in order.lines.order_by("position"):
        left = line.quantity - shipped.get(line.pk, 0)
        if line.sku and left > 0:
            needed.append((line.pk, line.external_id, line.sku, left))
    return needed


def _stock(order: Order, location_ids: list[int], skus: list[str]) -> dict[tuple[int, str], Decimal]:
    stock = {
        (row.location_id, row.sku): row.ats for row in available_to_sell(skus=skus, location_ids=location_ids).rows
    }
    # The order's own reservation is what routing allocates: it does not count against itself.
    for location_id, sku, quantity in Reservation.objects.filter(
        order_line__order=order, released_at__isnull=True, location_id__in=location_ids
    ).values_list("location_id", "sku", "quantity"):
        stock[(location_id, sku)] = stock.get((location_id, sku), Decimal(0)) + quantity
    return stock


def _allocate(
    needed: list[tuple[int, str, str, int]], rules: list[RoutingRule], stock: dict[tuple[int, str], Decimal]
) -> tuple[dict[int, tuple[RoutingRule, list[dict]]], dict[str, int]]:
    """One location for everything when one can; else split in priority order."""
    for rule in rules:
        if all(
            (not rule.skus or sku in rule.skus) and stock.get((rule.location_id, sku), Decimal(0)) >= quantity
            for _, _, sku, quantity in needed
        ):
            lines = [{"line": pk, "external_id": ext, "sku": sku, "quantity": qty} for pk, ext, sku, qty in needed]
            return {rule.location_id: (rule, lines)}, {}
    plan: dict[int, tuple[RoutingRule, list[dict]]] = {}
    left_over: dict[str, int] = defaultdict(int)
    remaining = dict(stock)
    for pk, external_id, sku, quantity in needed:
        left = quantity
        for rule in rules:
            if left == 0:
                break
            if rule.skus and sku not in rule.skus:
                continue
            available = int(max(remaining.get((rule.location_id, sku), Decimal(0)), Decimal(0)))
            take = min(available, left)
            if take <= 0:
                continue
            remaining[(rule.location_id, sku)] = remaining.get((rule.location_id, sku), Decimal(0)) - take
            plan.setdefault(rule.location_id, (rule, []))[1].append(
                {"line": pk, "external_id": external_id, "sku": sku, "quantity": take}
            )
            left -= take
        if left:
            left_over[sku] += left
    return plan, dict(left_over)


def _raise(order: Order, *, cause: str, title: str, detail: str, context: dict) -> None:
    exception_raise(
        kind="inventory",
        cause=cause,
        title=title,
        detail=detail,
        obj=order,
        context=context,
        tags=("fulfilment",),
        retry=RetryAction(ROUTE_RETRY, {"order_id": order.pk}),
    )


def order_routable(order: Order) -> bool:
    return order.paid_at is not None and order.cancelled_at is None and order.fulfilled_at is None


@transaction.atomic
def order_route(*, order: Order) -> RoutingResult:
    """Route a paid order (idempotent: an order with live requests keeps them)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    live = list(order.fulfilment_requests.exclude(status=FulfilmentRequest.Status.CANCELLED))
    if live or not order_routable(order):
        return RoutingResult(requests=live, reason="" if live else "not routable")
    if not RoutingRule.objects.filter(active=True).exists():
        return RoutingResult(reason="routing off")  # the tenant does not route orders (no rules)
    needed = _needed(order)
    if not needed:
        return RoutingResult(reason="nothing to ship")
    rules = [
        rule for rule in RoutingRule.objects.filter(active=True).order_by("priority", "pk") if rule_applies(rule, order)
    ]
    if not rules:
        where = "/".join(part for part in (order.ship_country, order.ship_region) if part) or "no destination"
        _raise(
            order,
            cause="fulfilment_no_route",
            title="No routing rule covers this order's destination",
            detail=f"Order {order.external_id} ships to {where}; no active routing rule applies.",
            context={"ship_country": order.ship_country, "ship_region": order.ship_region},
        )
        return RoutingResult(reason="no rule")
    skus = sorted({sku for _, _, sku, _ in needed})
    stock = _stock(order, sorted({rule.location_id for rule in rules}), skus)
    plan, backordered = _allocate(needed, rules, stock)
    if backordered:
        short = ", ".join(f"{sku} x{quantity}" for sku, quantity in sorted(backordered.items()))
        _raise(
            order,
            cause="fulfilment_backorder",
            title="Backorder: no location has the stock to ship this order",
            detail=f"Order {order.external_id}: short of {short}. It is routed again when stock arrives (retry).",
            context={"backordered": backordered},
        )
        return RoutingResult(backordered=backordered, reason="backorder")
    requests = [
        FulfilmentRequest.objects.create(
            order=order,
            location_id=location_id,
            rule=rule,
            fulfilment_connection_id=rule.fulfilment_connection_id,
            lines=lines,
        )
        for location_id, (rule, lines) in plan.items()
    ]
    exception_resolve_for_object(obj=order, reason="Routed")
    log.info("commerce.order_routed", order_id=order.pk, locations=sorted(plan))
    return RoutingResult(requests=requests)


def orders_to_route(*, limit: int = 200) -> list[int]:
    """Paid, open orders with no live fulfilment request and no open allocation exception (those
    wait for their retry): the periodic job's work list. Empty while the tenant has no rules."""
    if not RoutingRule.objects.filter(active=True).exists():
        return []
    waiting = Occurrence.objects.filter(
        content_type=ContentType.objects.get_for_model(Order),
        resolved_at__isnull=True,
        exception__cause__in=ALLOCATION_CAUSES,
        exception__status__in=OPEN_STATUSES,
    ).values_list("object_id", flat=True)
    live = [status for status in FulfilmentRequest.Status.values if status != FulfilmentRequest.Status.CANCELLED]
    return list(
        Order.objects.filter(paid_at__isnull=False, cancelled_at__isnull=True, fulfilled_at__isnull=True)
        .exclude(fulfilment_requests__status__in=live)
        .exclude(pk__in=[int(pk) for pk in waiting])
        .order_by("paid_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def fulfilment_policy_update(*, ship_sla_hours: int, actor: User | None = None) -> FulfilmentPolicy:
    """Set the ship time the retailer promises (hours from payment to the first shipment), which
    the perfect-order KPI measures against."""
    policy = FulfilmentPolicy.locked()  # the first change saves the defaults
    before = policy.ship_sla_hours
    policy.ship_sla_hours = ship_sla_hours
    policy.full_clean()
    policy.save()
    if before != ship_sla_hours:
        _audit(actor=actor, action="fulfilment_policy.update", changes={"ship_sla_hours": [before, ship_sla_hours]})
    return policy
