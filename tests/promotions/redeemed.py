"""A vendor-funded promotion redeemed by posted orders on two channels and two versions (issue 20):
what the redemption report, the claims and their tests start from. Call inside tenant_context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal as D

from commerce.models import Order
from commerce.services import order_upsert
from connectors.models import Connection
from mappings.services import standard_chart_apply
from posting.services import journal_post_order, journals_post_orders
from promotions import lifecycle
from promotions.models import ChannelDeployment, Promotion
from tests.commerce.factories import shopify_order
from tests.promotions.conftest import promotion, published, sales_channels

# Acme's zone is America/New_York (UTC-4 from 8 March 2026): 02:00 UTC on the 15th is the 14th there.
V1_LIVE = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)
V2_LIVE = dt.datetime(2026, 3, 15, 3, 0, tzinfo=dt.UTC)


@dataclass
class Redeemed:
    promotion: Promotion
    web: Connection
    outlet: Connection
    orders: dict[str, Order]


def _stored(number: str, connection: Connection, placed_at: dt.datetime, **changes):
    document = shopify_order(external_id=number, placed_at=placed_at, paid_at=placed_at, **changes)
    return order_upsert(source="shopify", connection_id=connection.pk, document=document).obj, document


def boots_promotion(
    author,
    approver,
    channels_in_scope,
    *,
    key: str = "boots-10",
    share: str = "30",
    funding: str = "vendor",
    **fields,
) -> Promotion:
    """BOOTS10: 10.00 off a boot, the vendor funding `share` % of it; `fields` for the rest (a budget)."""
    return published(
        promotion(
            key=key,
            author=author,
            channels=channels_in_scope,
            kind="amount_off",
            value=D("10"),
            eligibility={"skus": ["BOOT-BRN"], "coupon_codes": ["boots10"]},
            pricing={},
            funding=funding,
            funding_vendor_ref="BOOTMAKER-LTD" if funding == "vendor" else "",
            funding_share=D(share),
            **fields,
        ),
        author=author,
        approver=approver,
    )


def redeemed(world, *, author=None, approver=None) -> Redeemed:
    """v1 (vendor 30 %) live from 10 March, v2 (vendor 50 %) from 15 March 03:00 UTC. Orders:
    W1 web 14 Mar 15:28 UTC (v1), W2 web 15 Mar 02:00 UTC = 14 Mar local (v1), W3 web 16 Mar (v2) with
    two boots; O1, O2 outlet on 14 and 16 Mar through the batch path (v1, v2); W4 web 14 Mar cancelled."""
    author, approver = author or world.acme_admin, approver or world.partner_admin
    standard_chart_apply()
    web, outlet, _pos = sales_channels()
    promo = boots_promotion(author, approver, [web, outlet])
    ChannelDeployment.objects.filter(promotion=promo).update(acknowledged_at=V1_LIVE, sent_at=V1_LIVE)
    lifecycle.promotion_edit(promotion=promo, actor=author, funding_share=D("50"))
    promo = published(promo, author=author, approver=approver)
    ChannelDeployment.objects.filter(promotion=promo, version__number=2).update(
        acknowledged_at=V2_LIVE, sent_at=V2_LIVE
    )
    orders = {}
    for number, placed_at, changes in (
        ("W1", dt.datetime(2026, 3, 14, 15, 28, tzinfo=dt.UTC), {}),
        ("W2", dt.datetime(2026, 3, 15, 2, 0, tzinfo=dt.UTC), {}),
        ("W3", dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC), {"two_boots": True}),
        ("W4", dt.datetime(2026, 3, 14, 16, 0, tzinfo=dt.UTC), {"cancelled": True}),
    ):
        extra = {}
        if changes.get("two_boots"):  # two boots at 40.00: the same gross, two units
            lines = shopify_order().lines
            extra = {
                "lines": tuple(
                    replace(x, quantity=2, unit_price=D("40.00")) if x.sku == "BOOT-BRN" else x for x in lines
                )
            }
        if changes.get("cancelled"):
            extra["cancelled_at"] = placed_at + dt.timedelta(hours=1)
        order, _document = _stored(number, web, placed_at, **extra)
        journal_post_order(order=order)
        orders[number] = order
    items = [
        _stored("O1", outlet, dt.datetime(2026, 3, 14, 18, 0, tzinfo=dt.UTC)),
        _stored("O2", outlet, dt.datetime(2026, 3, 16, 18, 0, tzinfo=dt.UTC)),
    ]
    assert [outcome.status for outcome in journals_post_orders(items)] == ["posted", "posted"]
    orders.update({order.external_id: order for order, _document in items})
    return Redeemed(promo, web, outlet, orders)
