"""The financial link: an order discount from a published vendor-funded promotion posts to the
vendor-funded receivable role, a refund reverses it, and a partial share splits the discount."""

from decimal import Decimal as D

from django_tenants.utils import tenant_context

from commerce.models import DiscountAllocation
from commerce.services import order_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.selectors import entry_balance
from posting.services import journal_post_order, journal_post_refund
from tests.commerce.factories import refund, shopify_order
from tests.promotions.conftest import sales_channels
from tests.promotions.redeemed import boots_promotion

VENDOR_RECEIVABLE = "1200"  # the standard chart's vendor-funded discount receivable


def _boots_promotion(world, share: str):
    return boots_promotion(world.acme_admin, world.partner_admin, sales_channels()[:1], share=share)


def _receivable(entry) -> tuple[D, D]:
    lines = entry.lines.filter(account__code=VENDOR_RECEIVABLE)
    return sum((line.debit for line in lines), D(0)), sum((line.credit for line in lines), D(0))


def test_without_a_promotion_the_coupon_stays_merchant_funded(world, channels):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        assert list(order.discounts.values_list("code", "funding", "amount")) == [
            ("BOOTS10", "merchant", D("10.0000")),
            ("", "vendor", D("5.0000")),
            ("SAVE15", "merchant", D("15.0000")),
        ]


def test_vendor_funded_promotion_posts_to_the_receivable_and_the_refund_reverses_it(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _boots_promotion(world, "100")
        assert promo.status == "live"
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        assert list(order.discounts.values_list("code", "funding", "amount")) == [
            ("BOOTS10", "vendor", D("10.0000")),
            ("", "vendor", D("5.0000")),
            ("SAVE15", "merchant", D("15.0000")),
        ]
        entry = journal_post_order(order=order).entry
        assert entry_balance(entry=entry) == 0
        assert _receivable(entry) == (D("15.0000"), D("0"))
        boot_refund = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L2", 1),))).obj
        reversal = journal_post_refund(refund=boot_refund).entry
        assert entry_balance(entry=reversal) == 0
        assert _receivable(reversal) == (D("0"), D("10.0000"))


def test_a_partial_vendor_share_splits_the_discount(world, channels):
    with tenant_context(world.acme):
        _boots_promotion(world, "30")
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        boots = DiscountAllocation.objects.filter(order=order, code="BOOTS10")
        assert list(boots.values_list("funding", "amount")) == [("vendor", D("3.0000")), ("merchant", D("7.0000"))]
