"""Pure builder tests: exact role lines for vendor-shaped documents, no database."""

from dataclasses import replace
from decimal import Decimal as D

import pytest

from commerce.documents import DiscountDoc, OrderLineDoc, PaymentDoc, PayoutLineDoc, ShippingLineDoc, TaxLineDoc
from posting.builders import Policy, PostingRefused, build_order, build_payout, build_processor_charge, build_reversal
from tests.commerce.factories import jpy_order, kwd_order, shopify_order, stripe_payout
from tests.posting.drafts import GROSS, WEB, balanced, rows, with_allocations


def test_order_with_coupon_line_discounts_two_jurisdictions_shipping_and_gift_card():
    draft = build_order(shopify_order(), GROSS)
    assert rows(draft) == [
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("9.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("16.00"), D("0.00")),
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("5.00"),
            D("0.00"),
        ),
        ("payment_clearing", {**WEB, "gateway": "stripe", "payment_method": "card"}, D("170.30"), D("0.00")),
        ("gift_card_liability", WEB, D("25.00"), D("0.00")),
        ("revenue", {**WEB, "product_category": "apparel"}, D("0.00"), D("120.00")),
        ("revenue", {**WEB, "product_category": "footwear"}, D("0.00"), D("80.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("0.00"), D("7.20")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("0.00"), D("8.10")),
        ("shipping_income", WEB, D("0.00"), D("10.00")),
    ]
    assert draft.totals() == (D("225.30"), D("225.30"))
    assert draft.warnings == []


def test_order_discounts_net_reduce_revenue_but_vendor_funding_stays_a_receivable():
    draft = build_order(shopify_order(), Policy(discounts="net"))
    assert rows(draft) == [
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("5.00"),
            D("0.00"),
        ),
        ("payment_clearing", {**WEB, "gateway": "stripe", "payment_method": "card"}, D("170.30"), D("0.00")),
        ("gift_card_liability", WEB, D("25.00"), D("0.00")),
        ("revenue", {**WEB, "product_category": "apparel"}, D("0.00"), D("111.00")),
        ("revenue", {**WEB, "product_category": "footwear"}, D("0.00"), D("64.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("0.00"), D("7.20")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("0.00"), D("8.10")),
        ("shipping_income", WEB, D("0.00"), D("10.00")),
    ]


def test_order_level_allocation_posts_the_coupon_without_a_category():
    draft = build_order(shopify_order(), Policy(allocation="order"))
    discounts = [row for row in rows(draft) if row[0] == "discount"]
    assert discounts == [
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("10.00"), D("0.00")),
        ("discount", {**WEB, "promotion_funding": "merchant"}, D("15.00"), D("0.00")),
    ]
    assert balanced(draft)


def test_tax_inclusive_prices_post_revenue_net_of_included_tax():
    order = shopify_order(
        currency="GBP",
        taxes_included=True,
        lines=(
            OrderLineDoc("G1", "JUMPER", 1, D("120.00"), "apparel", taxes=(TaxLineDoc("GB", D("0.2"), D("20.00")),)),
        ),
        discounts=(),
        shipping_lines=(ShippingLineDoc("S", D("6.00"), taxes=(TaxLineDoc("GB", D("0.2"), D("1.00")),)),),
        payments=(PaymentDoc("g", "shopify_payments", D("126.00"), method="card"),),
        vendor_total=None,
    )
    assert rows(build_order(order, GROSS)) == [
        ("payment_clearing", {**WEB, "gateway": "shopify_payments", "payment_method": "card"}, D("126.00"), D("0.00")),
        ("revenue", {**WEB, "product_category": "apparel"}, D("0.00"), D("100.00")),
        ("tax_payable", {**WEB, "jurisdiction": "GB"}, D("0.00"), D("21.00")),
        ("shipping_income", WEB, D("0.00"), D("5.00")),
    ]


def test_marketplace_facilitator_tax_never_reaches_merchant_tax_payable():
    order = shopify_order(
        channel="amazon",
        lines=(
            OrderLineDoc(
                "A1", "TEE", 1, D("100.00"), taxes=(TaxLineDoc("US-WA", D("0.08"), D("8.00"), "marketplace"),)
            ),
        ),
        discounts=(),
        shipping_lines=(),
        payments=(PaymentDoc("a", "marketplace", D("108.00")),),
        vendor_total=None,
    )
    amazon = {"channel": "amazon"}
    draft = build_order(order, GROSS)
    assert rows(draft) == [
        ("marketplace_tax_remitted", {**amazon, "jurisdiction": "US-WA"}, D("8.00"), D("0.00")),
        ("payment_clearing", {**amazon, "gateway": "marketplace"}, D("108.00"), D("0.00")),
        ("revenue", amazon, D("0.00"), D("100.00")),
        ("marketplace_tax_collected", {**amazon, "jurisdiction": "US-WA"}, D("0.00"), D("8.00")),
        ("payment_clearing", {**amazon, "gateway": "marketplace"}, D("0.00"), D("8.00")),
    ]
    assert "tax_payable" not in [row[0] for row in rows(draft)]


def test_payments_that_do_not_cover_the_lines_are_refused_not_plugged():
    order = shopify_order(payments=(PaymentDoc("p1", "stripe", D("195.29"), method="card"),))
    with pytest.raises(PostingRefused) as refused:
        build_order(order, GROSS)
    assert refused.value.kinds == ["unbalanced"]
    assert "195.29" in str(refused.value) and "195.30" in str(refused.value)


def test_vendor_total_that_does_not_add_up_posts_the_lines_and_warns():
    draft = build_order(shopify_order(vendor_total=D("195.00")), GROSS)
    assert balanced(draft)
    assert [warning.kind for warning in draft.warnings] == ["totals_mismatch"]


def test_jpy_zero_decimal_tax_inclusive_order():
    assert rows(build_order(jpy_order(), GROSS)) == [
        ("payment_clearing", {"channel": "pos", "gateway": "square", "payment_method": "card"}, D("3000"), D("0")),
        ("revenue", {"channel": "pos"}, D("0"), D("2728")),
        ("tax_payable", {"channel": "pos", "jurisdiction": "JP"}, D("0"), D("272")),
    ]


def test_kwd_three_decimal_order_allocates_the_coupon_by_largest_remainder():
    assert rows(build_order(kwd_order(), GROSS)) == [
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("0.067"), D("0.000")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("0.033"), D("0.000")),
        ("payment_clearing", {**WEB, "gateway": "knet", "payment_method": "debit"}, D("4.150"), D("0.000")),
        ("revenue", {**WEB, "product_category": "apparel"}, D("0.000"), D("2.500")),
        ("revenue", {**WEB, "product_category": "footwear"}, D("0.000"), D("1.250")),
        ("shipping_income", WEB, D("0.000"), D("0.500")),
    ]


def test_payout_posts_bank_net_fees_clearing_adjustments_and_reserve():
    stripe = {"gateway": "stripe"}
    assert rows(build_payout(stripe_payout())) == [
        ("payment_clearing", stripe, D("47.47"), D("0.00")),
        ("merchant_fees", stripe, D("7.24"), D("0.00")),
        ("bank", {}, D("104.59"), D("0.00")),
        ("reserve", stripe, D("10.00"), D("0.00")),
        ("payout_adjustment", stripe, D("1.00"), D("0.00")),
        ("payment_clearing", stripe, D("0.00"), D("170.30")),
    ]


def test_payout_whose_lines_do_not_add_up_is_refused():
    with pytest.raises(PostingRefused) as refused:
        build_payout(stripe_payout(amount=D("104.68")))
    assert refused.value.kinds == ["totals_mismatch"]


def test_reversal_swaps_every_side():
    draft = build_order(kwd_order(), GROSS)
    reversal = build_reversal(draft.lines, currency="KWD", memo="Cancel")
    assert [(line.role, line.debit, line.credit) for line in reversal.lines] == [
        (line.role, line.credit, line.debit) for line in draft.lines
    ]


def test_order_discount_over_lines_with_nothing_left_to_discount_is_refused():
    order = kwd_order(
        lines=(OrderLineDoc("K1", "SCARF", 1, D("1.000")),),
        discounts=(DiscountDoc(D("1.000"), line_external_id="K1"), DiscountDoc(D("0.100"), code="X")),
    )
    with pytest.raises(PostingRefused) as refused:
        build_order(replace(order, payments=()), GROSS)
    assert refused.value.kinds == ["invalid"]


# --- payouts: signed fees and unknown vendor line types (issue 14) -----------------------------


def payout_with_fee_refunds_and_unknown_lines():
    """A charge with its fee; a refund whose fee the processor gave back (fee -1.20); a fee line
    refunding 2.00 of fees; two lines of vendor types Tillbridge does not know (Shopify balance
    transactions `credit` and `debit`). Net 165.06 - 46.27 + 2.00 + 5.00 - 3.00 = 122.79."""
    return stripe_payout(
        amount=D("122.79"),
        lines=(
            PayoutLineDoc("charge", D("170.30"), fee=D("5.24"), reference="1001"),
            PayoutLineDoc("refund", D("-47.47"), fee=D("-1.20"), reference="R1"),
            PayoutLineDoc("fee", D("2.00"), description="Fee refund"),
            PayoutLineDoc("other", D("5.00"), vendor_type="credit", description="Goodwill credit"),
            PayoutLineDoc("other", D("-3.00"), vendor_type="debit", description="Chargeback debit"),
        ),
    )


def test_payout_fees_keep_their_sign_and_unknown_lines_go_to_payout_suspense_with_one_warning():
    stripe = {"gateway": "stripe"}
    draft = build_payout(payout_with_fee_refunds_and_unknown_lines())
    assert rows(draft) == [
        ("payment_clearing", stripe, D("47.47"), D("0.00")),
        ("merchant_fees", stripe, D("5.24"), D("0.00")),
        ("bank", {}, D("122.79"), D("0.00")),  # the bank line is the payout net
        ("payout_suspense", {**stripe, "vendor_type": "debit"}, D("3.00"), D("0.00")),
        ("payment_clearing", stripe, D("0.00"), D("170.30")),
        ("merchant_fees", stripe, D("0.00"), D("3.20")),  # fee refunds: 1.20 on the refund + the 2.00 fee line
        ("payout_suspense", {**stripe, "vendor_type": "credit"}, D("0.00"), D("5.00")),
    ]
    assert draft.totals() == (D("178.50"), D("178.50"))
    assert [(warning.kind, warning.message) for warning in draft.warnings] == [
        (
            "payout_suspense",
            "Payout po_1 has lines of vendor types the portal does not know, booked to payout suspense: "
            "credit (5.00 USD), debit (-3.00 USD). Reclassify them from the suspense account.",
        )
    ]


def test_a_negative_fee_alone_credits_merchant_fees():
    payout = stripe_payout(
        amount=D("41.90"), lines=(PayoutLineDoc("charge", D("41.44"), fee=D("-0.46"), reference="1001"),)
    )
    assert rows(build_payout(payout)) == [
        ("bank", {}, D("41.90"), D("0.00")),
        ("payment_clearing", {"gateway": "stripe"}, D("0.00"), D("41.44")),
        ("merchant_fees", {"gateway": "stripe"}, D("0.00"), D("0.46")),
    ]


# --- order-level discounts: gross weights and the vendor's own allocations (issue 14) -----------


def _discount_rows(draft):
    return [row for row in rows(draft) if row[0] == "discount"]


def test_order_level_discount_is_weighted_by_gross_not_by_net_of_line_discounts():
    # SAVE15 over grosses 100 / 80 / 20 → 7.50 / 6.00 / 1.50; weighted net of the line discounts
    # (95 / 70 / 20) it was 7.70 / 5.68 / 1.62, i.e. 9.32 apparel and 15.68 footwear.
    assert _discount_rows(build_order(shopify_order(), GROSS)) == [
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("9.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("16.00"), D("0.00")),
    ]


def test_vendor_per_line_allocations_of_an_order_discount_are_used_when_they_sum_to_it():
    draft = build_order(with_allocations("8.00", "5.00", "2.00"), GROSS)
    assert _discount_rows(draft) == [
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("10.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("15.00"), D("0.00")),
    ]
    assert balanced(draft) and draft.warnings == []


def test_vendor_allocations_that_do_not_sum_to_the_discount_fall_back_to_gross_and_warn():
    draft = build_order(with_allocations("8.00", "5.00", "1.99"), GROSS)
    assert _discount_rows(draft) == _discount_rows(build_order(shopify_order(), GROSS))
    assert balanced(draft)
    assert [(warning.kind, warning.message) for warning in draft.warnings] == [
        (
            "totals_mismatch",
            "The vendor's allocations of order discount SAVE15 sum to 14.99, not 15.00; "
            "allocated by gross amount instead.",
        )
    ]


def test_payout_matches_fees_already_booked_at_charge_time():
    """The charge 1001 booked its 5.24 fee when charged: the payout clears its net only, the monthly
    fee line is still booked, and bank and balance are unchanged."""
    stripe = {"gateway": "stripe"}
    assert rows(build_payout(stripe_payout(), fees_booked=frozenset({"1001"}))) == [
        ("payment_clearing", stripe, D("47.47"), D("0.00")),
        ("merchant_fees", stripe, D("2.00"), D("0.00")),
        ("bank", {}, D("104.59"), D("0.00")),
        ("reserve", stripe, D("10.00"), D("0.00")),
        ("payout_adjustment", stripe, D("1.00"), D("0.00")),
        ("payment_clearing", stripe, D("0.00"), D("165.06")),
    ]


def _processor_charge(**changes):
    import datetime as dt

    from commerce.documents import CanonicalProcessorCharge

    charge = CanonicalProcessorCharge(
        external_id="ch_1",
        gateway="stripe",
        currency="USD",
        amount=D("80.10"),
        created_at=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC),
        fee=D("2.62"),
        references=("ch_1",),
    )
    return replace(charge, **changes)


def test_processor_charge_settles_the_orders_clearing_and_books_the_fee_without_revenue():
    order = shopify_order()
    payment = order.payments[0]
    draft = build_processor_charge(_processor_charge(amount=payment.amount), order, payment, fee=D("2.62"))
    order_clearing = {**WEB, "gateway": payment.gateway, "payment_method": payment.method}
    order_clearing = {key: value for key, value in order_clearing.items() if value}
    assert rows(draft) == [
        ("payment_clearing", {"gateway": "stripe"}, payment.amount - D("2.62"), D("0.00")),
        ("merchant_fees", {"gateway": "stripe"}, D("2.62"), D("0.00")),
        ("payment_clearing", order_clearing, D("0.00"), payment.amount),
    ]
    assert not {line.role for line in draft.lines} & {"revenue", "tax_payable", "shipping_income"}
    assert draft.warnings == []
    # Fee unknown (left to the payout) and a charge that differs from the order's payment.
    other = build_processor_charge(_processor_charge(amount=D("10.00")), order, payment, fee=D("0"))
    assert [line.role for line in other.lines] == ["payment_clearing", "payment_clearing"]
    assert [warning.kind for warning in other.warnings] == ["totals_mismatch"]
    with pytest.raises(PostingRefused) as refused:
        build_processor_charge(_processor_charge(currency="EUR"), order, payment, fee=D("0"))
    assert refused.value.kinds == ["currency_mismatch"]
