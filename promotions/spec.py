"""A promotion version as the plain values a channel adapter takes (`PromotionSpec`)."""

from __future__ import annotations

from decimal import Decimal

from connectors.vendors.base import PromotionSpec
from promotions.models import PromotionVersion, Stacking


def promotion_spec(version: PromotionVersion) -> PromotionSpec:
    eligibility = version.eligibility or {}
    min_spend = eligibility.get("min_spend")
    return PromotionSpec(
        key=version.promotion.key,
        version=version.number,
        title=version.promotion.name,
        kind=version.kind,
        value=Decimal(version.value),
        currency=version.currency,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        skus=tuple(eligibility.get("skus") or ()),
        categories=tuple(eligibility.get("categories") or ()),
        collections=tuple(eligibility.get("collections") or ()),
        coupon_codes=tuple(eligibility.get("coupon_codes") or ()),
        min_spend=Decimal(str(min_spend)) if min_spend not in (None, "") else None,
        buy_quantity=version.buy_quantity,
        get_quantity=version.get_quantity,
        location_ids=tuple(str(location) for location in eligibility.get("locations") or ()),
        usage_limit=version.usage_limit,
        exclusive=version.stacking == Stacking.EXCLUSIVE,
    )
