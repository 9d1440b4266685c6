"""Refunds take their share of a promotion's discount back from its spend (issue 20): budgets count
net spend; the shares are exact until rounded to the minor unit with the remainder allocated."""

from __future__ import annotations

from decimal import Decimal as D

from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from commerce.services import order_upsert, refund_upsert
from core.money import minor_units, quantize
from mappings.services import standard_chart_apply
from posting.services import journal_post_order, journal_post_refund
from promotions.budget import promotion_spend_record
from promotions.models import PromotionSpend
from promotions.refunded import discounts_refunded, refunded_split
from promotions.selectors import promotion_budget_state
from tests.commerce.factories import refund, shopify_order
from tests.promotions.conftest import promotion, published, sales_channels
from tests.promotions.redeemed import boots_promotion


def _save15(world, **fields):
    """The order's SAVE15 coupon: 15.00 off the order, split over its lines by gross 7.50/6.00/1.50."""
    return published(
        promotion(
            key="save-15",
            author=world.acme_admin,
            channels=sales_channels()[:1],
            kind="amount_off",
            value=D("15"),
            eligibility={"skus": ["TEE-BLK"], "coupon_codes": ["save15"]},
            pricing={},
            budget=D("100"),
            **fields,
        ),
        author=world.acme_admin,
        approver=world.partner_admin,
    )


def _refund_posted(document):
    stored = refund_upsert(source="shopify", connection_id=1, document=document).obj
    return stored, journal_post_refund(refund=stored)


def test_a_refund_reduces_the_spend_by_its_share_of_the_discount_once(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _save15(world)
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        journal_post_order(order=order)
        assert promotion_budget_state(promotion=promo).spent == D("15.00")

        first, outcome = _refund_posted(refund("R1", (("L1", 1),)))  # one of the two tees: half of 7.50
        assert outcome.status == "posted"
        assert promotion_budget_state(promotion=promo).spent == D("11.25")
        journal_post_refund(refund=first)  # a replay of the refund's posting
        promotion_spend_record(orders=[order])  # and of the order's recording
        journal_post_order(order=order)
        row = PromotionSpend.objects.get()
        assert (row.discount, row.spend) == (D("11.25"), D("11.25"))

        _refund_posted(refund("R2", (("L3", 1),)))  # the socks: all of their 1.50
        state = promotion_budget_state(promotion=promo)
        assert (state.spent, state.redemptions) == (D("9.75"), 1)


def test_a_refund_without_lines_takes_back_its_share_of_the_payments(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _save15(world)
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        journal_post_order(order=order)

        # 65.10 of the 195.30 paid: a third of the discount (5.00) comes back
        _refund_posted(refund("R3", (), amount=D("65.10")))

        assert promotion_budget_state(promotion=promo).spent == D("10.00")


def test_a_vendor_funded_discount_gives_back_the_vendors_share(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        promo = _save15(world, funding="vendor", funding_vendor_ref="TEEMAKER", funding_share=D("100"))
        document = shopify_order(
            discounts=tuple(
                d if d.code != "SAVE15" else type(d)(D("15.00"), code="SAVE15", funding="vendor")
                for d in shopify_order().discounts
            )
        )
        order = order_upsert(source="shopify", connection_id=1, document=document).obj
        journal_post_order(order=order)
        _refund_posted(refund("R1", (("L2", 1),)))  # the boot: all of its 6.00

        row = PromotionSpend.objects.get(promotion=promo)
        assert (row.discount, row.vendor_funded, row.spend) == (D("9.00"), D("9.00"), D("9.00"))


def test_the_rounded_parts_add_up_to_the_rounded_total():
    thirds = {1: D(10) / 3, 2: D(10) / 3, 3: D(10) / 3}
    assert refunded_split(thirds, "USD") == {1: D("3.34"), 2: D("3.33"), 3: D("3.33")}
    assert refunded_split({1: D("0.5"), 2: D("0.5")}, "JPY") == {1: D("1"), 2: D("0")}
    assert refunded_split({1: D("0.004")}, "USD") == {1: D("0.00")}
    assert refunded_split({7: D("1.0005")}, "KWD") == {7: D("1.001")}


def test_each_promotion_of_the_order_gets_its_own_share_back(world, channels):
    with tenant_context(world.acme):
        standard_chart_apply()
        save = _save15(world)
        boots = boots_promotion(
            world.acme_admin, world.partner_admin, sales_channels()[:1], funding="merchant", share="100"
        )
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        journal_post_order(order=order)

        _refund_posted(refund("R1", (("L2", 1),)))  # the boot: its 10.00 and its 6.00 of SAVE15

        spent = {row.promotion_id: row.spend for row in PromotionSpend.objects.all()}
        assert spent == {save.pk: D("9.00"), boots.pk: D("0.00")}


@given(
    st.lists(st.decimals(min_value=0, max_value=10_000, places=6), min_size=1, max_size=6),
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_rounded_parts_sum_to_the_rounded_total_and_never_go_negative(amounts, currency):
    parts = refunded_split(dict(enumerate(amounts)), currency)

    assert sum(parts.values()) == quantize(sum(amounts), currency)
    assert all(part >= 0 and part == quantize(part, currency) for part in parts.values())
    # within its share of the rounded total (under one unit) plus the total's rounding (half a unit)
    unit = D(1).scaleb(-minor_units(currency))
    assert all(abs(parts[key] - amount) < unit * D("1.5") for key, amount in enumerate(amounts))


def test_the_refunded_part_of_each_discount_before_and_after_a_refund(world, channels):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        assert discounts_refunded(order) == {}
        refund_upsert(source="shopify", connection_id=1, document=refund("R9", (("L1", 2),)))
        taken = {
            d.code or d.promotion_id: amount
            for d in order.discounts.all()
            for pk, amount in discounts_refunded(order).items()
            if pk == d.pk
        }
        # both tees back: the line's own discount in full and the 7.50 of SAVE15 that sat on them
        assert taken == {"BOOTS10": D(0), "brand-fund": D("5.00"), "SAVE15": D("7.50")}
