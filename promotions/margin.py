"""Margin validation at submit (issue 20): the price after discount, plus what the vendor funds of the
discount, against the unit cost per SKU; below the tenant's minimum margin the version needs a
finance approver (see `promotions.transitions.FINANCE_ROLES`).

Costs and list prices come from the version's own `pricing`, else from the newest published price
list in the version's currency (its `prices` and `costs`: the price list's cost column, CSV import,
API `costs` and page form)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from promotions.models import Funding, Kind, PriceList, PriceListVersion, PromotionVersion
from promotions.policy import promotion_policy_get

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def _price_list_values(currency: str) -> tuple[dict[str, str], dict[str, str]]:
    """(prices, costs) of the newest published price list version in the currency."""
    published = PriceList.objects.filter(currency=currency, published_version__isnull=False)
    version = (
        PriceListVersion.objects.filter(pk__in=published.values("published_version"))
        .order_by("-starts_at", "-pk")
        .first()
    )
    return (version.prices or {}, version.costs or {}) if version is not None else ({}, {})


def _after(version: PromotionVersion, price: Decimal) -> Decimal:
    if version.kind == Kind.PERCENT_OFF:
        return price * (HUNDRED - version.value) / HUNDRED
    if version.kind == Kind.AMOUNT_OFF:
        return price - version.value
    return Decimal(version.value)  # fixed price


def _sku_margin(version: PromotionVersion, sku: str, price: Decimal, cost: Decimal) -> dict[str, str]:
    after = max(_after(version, price), Decimal(0))
    vendor_share = Decimal(version.funding_share) if version.funding == Funding.VENDOR else Decimal(0)
    vendor_funded = max(price - after, Decimal(0)) * vendor_share / HUNDRED
    net = after + vendor_funded  # what the merchant is paid per unit
    margin = (net - cost) * HUNDRED / net if net > 0 else Decimal(-100)
    return {
        "sku": sku,
        "price": str(price),
        "price_after": str(after.quantize(CENT)),
        "vendor_funded": str(vendor_funded.quantize(CENT)),
        "cost": str(cost),
        "margin_percent": str(margin.quantize(CENT)),
    }


def margin_check(*, version: PromotionVersion) -> dict[str, Any]:
    """{"min_percent", "lowest_percent", "skus": [...], "below": [skus], "unknown": [skus], "needs_finance"}."""
    minimum = promotion_policy_get().min_margin_percent
    result: dict[str, Any] = {
        "min_percent": str(minimum) if minimum is not None else None,
        "lowest_percent": None,
        "skus": [],
        "below": [],
        "unknown": [],
        "needs_finance": False,
    }
    if version.kind not in (Kind.PERCENT_OFF, Kind.AMOUNT_OFF, Kind.FIXED_PRICE):
        return result
    list_prices, list_costs = _price_list_values(version.currency)
    pricing = version.pricing or {}
    for sku in version.skus:
        entry = pricing.get(sku) or {}
        price = entry.get("price") or list_prices.get(sku)
        cost = entry.get("cost") or list_costs.get(sku)
        if price in (None, "") or cost in (None, ""):
            result["unknown"].append(sku)
            continue
        row = _sku_margin(version, sku, Decimal(str(price)), Decimal(str(cost)))
        result["skus"].append(row)
        if minimum is not None and Decimal(row["margin_percent"]) < minimum:
            result["below"].append(sku)
    margins = [Decimal(row["margin_percent"]) for row in result["skus"]]
    result["lowest_percent"] = str(min(margins)) if margins else None
    result["needs_finance"] = bool(result["below"])
    return result


def margin_refusal(version: PromotionVersion) -> str:
    """Why a version below the minimum margin needs a finance approver (for the error and the page)."""
    margin = version.margin or {}
    return (
        f"Version {version.number}'s margin after discount is {margin.get('lowest_percent')} %, below the "
        f"tenant's minimum of {margin.get('min_percent')} % (on {', '.join(margin.get('below') or [])}): "
        "approving it takes a finance approver (a tenant admin)."
    )
