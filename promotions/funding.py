"""The financial link: an order's discounts that came from a published promotion take that
version's funding, so posting sends the vendor's share to the vendor-funded receivable role (and a
refund reverses it pro rata, as posting does for every discount)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from commerce.documents import DiscountDoc
from commerce.models import Funding
from core.money import quantize
from promotions.models import Promotion
from promotions.selectors import discount_funding


def discounts_funded(discounts: tuple[DiscountDoc, ...], *, currency: str, at: dt.datetime | None) -> tuple:
    """Discounts as the promotions fund them. A vendor-funded version with a share below 100 % splits
    the discount into the vendor's part and the merchant's remainder, in the currency's minor unit.
    Discounts the channel already marked vendor-funded, or that match no promotion, are unchanged."""
    if not discounts or not Promotion.objects.filter(published_version__isnull=False).exists():
        return discounts
    funded: list[DiscountDoc] = []
    for discount in discounts:
        match = None
        if discount.funding == Funding.MERCHANT and (discount.code or discount.promotion_id):
            match = discount_funding(code=discount.code, promotion_id=discount.promotion_id, at=at)
        if match is None or match.vendor_share <= 0:
            funded.append(discount)
            continue
        vendor_part = quantize(discount.amount * match.vendor_share / 100, currency)
        funded.append(replace(discount, amount=vendor_part, funding=Funding.VENDOR))
        if vendor_part != discount.amount:
            funded.append(replace(discount, amount=discount.amount - vendor_part))
    return tuple(funded)
