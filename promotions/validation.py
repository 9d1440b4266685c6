"""The rule checks a promotion version must pass before it is submitted: window, value, funding,
cost floor, known SKUs, overlap with other promotions, and what each channel can carry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.utils import timezone

from connectors.models import Connection
from promotions.deployment import channel_adapter, promotion_spec
from promotions.margin import margin_check
from promotions.models import Funding, Kind, Promotion, PromotionVersion, Stacking
from promotions.selectors import LIVE_STATUSES
from promotions.transitions import _tenant
from promotions.waves import waves_problems

CONFLICT_STATUSES = (Promotion.Status.APPROVED, *LIVE_STATUSES)


def known_skus() -> set[str] | None:
    """The tenant's SKU list, when one exists (inventory levels); None when there is none."""
    try:
        model = apps.get_model("commerce", "InventoryLevel")
    except LookupError:
        return None
    skus = set(model.objects.values_list("sku", flat=True).distinct())
    return skus or None


def _overlaps(a: PromotionVersion, b: PromotionVersion) -> bool:
    a_end = a.ends_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    b_end = b.ends_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return a.starts_at < b_end and b.starts_at < a_end


def _stack_allowed(a: PromotionVersion, b: PromotionVersion) -> bool:
    if a.stacking != Stacking.STACKABLE or b.stacking != Stacking.STACKABLE:
        return False
    return b.promotion.key in (a.stackable_with or []) or a.promotion.key in (b.stackable_with or [])


def _plain(number: Decimal | int | str) -> str:
    return f"{Decimal(number).normalize():f}"


def _value_errors(version: PromotionVersion) -> list[str]:
    value, kind = _plain(Decimal(version.value)), version.kind
    amount = Decimal(version.value)
    errors = []
    if kind in (Kind.PERCENT_OFF, Kind.BUY_X_GET_Y) and not (0 < amount <= 100):
        errors.append(f"A {kind.replace('_', ' ')} value is a percentage above 0 and at most 100 (got {value}).")
    if kind in (Kind.AMOUNT_OFF, Kind.FIXED_PRICE, Kind.BUNDLE) and amount <= 0:
        errors.append(f"A {kind.replace('_', ' ')} value is an amount above 0 (got {value}).")
    if kind == Kind.FREE_SHIPPING and amount != 0:
        errors.append("A free shipping promotion has value 0.")
    if kind == Kind.BUY_X_GET_Y and not (version.buy_quantity and version.get_quantity):
        errors.append("Buy X get Y needs a buy quantity and a get quantity of at least 1.")
    if kind == Kind.BUNDLE and len(version.skus) < 2:
        errors.append("A bundle names at least two SKUs.")
    if kind in (Kind.FIXED_PRICE, Kind.BUNDLE, Kind.AMOUNT_OFF) and version.currency != _tenant().base_currency:
        errors.append(f"Amounts must be in the shop currency {_tenant().base_currency}, not {version.currency}.")
    return errors


def _price_after(version: PromotionVersion, price: Decimal) -> Decimal | None:
    if version.kind == Kind.PERCENT_OFF:
        return price * (100 - version.value) / 100
    if version.kind == Kind.AMOUNT_OFF:
        return price - version.value
    if version.kind == Kind.FIXED_PRICE:
        return version.value
    return None


def _floor_findings(version: PromotionVersion) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    if version.kind not in (Kind.PERCENT_OFF, Kind.AMOUNT_OFF, Kind.FIXED_PRICE):
        return errors, warnings
    pricing = version.pricing or {}
    for sku in version.skus:
        entry = pricing.get(sku) or {}
        cost = entry.get("cost")
        price = entry.get("price")
        if cost in (None, ""):
            warnings.append(f"{sku}: no unit cost given, so the cost floor was not checked.")
            continue
        if version.kind != Kind.FIXED_PRICE and price in (None, ""):
            warnings.append(f"{sku}: no list price given, so the price after discount is unknown.")
            continue
        after = _price_after(version, Decimal(price) if price not in (None, "") else Decimal(0))
        if after is not None and after < Decimal(cost):
            errors.append(f"{sku}: the promoted price {after.quantize(Decimal('0.01'))} is below the cost {cost}.")
    return errors, warnings


def _margin_warnings(version: PromotionVersion) -> list[str]:
    margin = margin_check(version=version)
    if not margin["needs_finance"]:
        return []
    return [
        f"The margin after discount is {margin['lowest_percent']} % on {', '.join(margin['below'])}, below "
        f"the minimum of {margin['min_percent']} %: approving it takes a finance approver."
    ]


def _overlap_errors(version: PromotionVersion) -> list[str]:
    errors = []
    skus = set(version.skus)
    others = Promotion.objects.filter(status__in=CONFLICT_STATUSES).exclude(pk=version.promotion_id)
    for other in others.select_related("current_version", "published_version"):
        theirs = other.published_version if other.status in LIVE_STATUSES else other.current_version
        if theirs is None or not _overlaps(version, theirs):
            continue
        shared = sorted(skus & set(theirs.skus))
        if shared and not _stack_allowed(version, theirs):
            errors.append(
                f"{other.key} ({other.status}) covers {', '.join(shared)} in an overlapping window and the two do "
                "not stack."
            )
    return errors


def validation_run(*, version: PromotionVersion, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every rule check on one version: {"ok", "errors": [{"rule", "message"}], "warnings": [...]}."""
    now = now or timezone.now()
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []

    def error(rule: str, message: str) -> None:
        errors.append({"rule": rule, "message": message})

    def warn(rule: str, message: str) -> None:
        warnings.append({"rule": rule, "message": message})

    if version.ends_at is not None and version.ends_at <= version.starts_at:
        error("window", "The window must end after it starts.")
    if version.ends_at is not None and version.ends_at <= now:
        error("window", "The window has already ended.")
    for message in _value_errors(version):
        error("value", message)
    if version.funding == Funding.VENDOR:
        if not version.funding_vendor_ref:
            error("funding", "A vendor-funded promotion names the vendor (vendor reference).")
        if not (0 < version.funding_share <= 100):
            error(
                "funding",
                f"The vendor's share is above 0 and at most 100 percent (got {_plain(version.funding_share)}).",
            )
    if version.budget is not None and version.budget < 0:
        error("budget", "The budget cannot be negative.")
    eligibility = version.eligibility or {}
    if not any(eligibility.get(key) for key in ("skus", "categories", "collections", "coupon_codes")) and (
        version.kind != Kind.FREE_SHIPPING
    ):
        warn("eligibility", "No SKUs, categories, collections or coupon codes: the promotion applies store-wide.")
    floor_errors, floor_warnings = _floor_findings(version)
    for message in floor_errors:
        error("cost_floor", message)
    for message in floor_warnings:
        warn("cost_floor", message)
    for message in _margin_warnings(version):
        warn("margin", message)
    for message in waves_problems(version):
        error("waves", message)
    known = known_skus()
    if known is None:
        if version.skus:
            warn("sku", "This tenant has no SKU list (no inventory levels yet), so SKUs were not checked.")
    else:
        unknown = sorted(set(version.skus) - known)
        if unknown:
            error("sku", f"Unknown SKUs: {', '.join(unknown)}.")
    for message in _overlap_errors(version):
        error("overlap", message)
    channels = list(version.channels.all())
    if not channels:
        error("channels", "Choose at least one sales channel.")
    spec = promotion_spec(version)
    for channel in channels:
        if channel.status != Connection.Status.ACTIVE:
            warn("channels", f"{channel.name} is {channel.status}; publishing to it may fail.")
        try:
            adapter = channel_adapter(channel.vendor)
        except LookupError:
            error("channels", f"{channel.name}: no promotion adapter for {channel.vendor}.")
            continue
        for reason in adapter.unsupported(spec):
            error("channels", f"{channel.name}: {reason}.")
    return {"ok": not errors, "errors": errors, "warnings": warnings, "at": now.isoformat()}
