"""Pure refund builder tests: the mirror of what an order posted, exact role lines, no database."""

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal as D

import pytest

from commerce.documents import PaymentDoc
from posting.builders import Policy, PostingRefused, build_order
from posting.refund_builders import build_refund
from tests.commerce.factories import jpy_order, kwd_order, refund, shopify_order
from tests.posting.drafts import CARD, GROSS, WEB, balanced, card_only_order, rows, with_allocations


def test_partial_refund_reverses_the_refunded_share_of_revenue_discounts_and_each_tax():
    draft = build_refund(shopify_order(), refund("R1", (("L1", 1),)), [], GROSS)
    assert rows(draft) == [
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("1.75"), D("0.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("1.97"), D("0.00")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("50.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("0.00"), D("3.75")),
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("0.00"),
            D("2.50"),
        ),
        ("payment_clearing", {**WEB, "gateway": "stripe", "payment_method": "card"}, D("0.00"), D("47.47")),
    ]


def test_second_partial_refund_with_shipping_takes_the_remainder():
    first = refund("R1", (("L1", 1),))
    second = refund("R2", (("L1", 1),), shipping=D("5.00"))
    assert rows(build_refund(shopify_order(), second, [first], GROSS)) == [
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("1.94"), D("0.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("2.19"), D("0.00")),
        ("shipping_income", WEB, D("5.00"), D("0.00")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("50.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("0.00"), D("3.75")),
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("0.00"),
            D("2.50"),
        ),
        ("payment_clearing", {**WEB, "gateway": "stripe", "payment_method": "card"}, D("0.00"), D("52.88")),
    ]


def test_jpy_refunds_in_thirds_round_each_step_and_sum_exactly_to_what_was_posted():
    order = jpy_order()
    refunds = [refund(f"J{n}", (("J1", 1),), currency="JPY", gateway="square") for n in range(3)]
    drafts = [build_refund(order, current, refunds[:index], GROSS) for index, current in enumerate(refunds)]
    revenue = [line.debit for draft in drafts for line in draft.lines if line.role == "refunds"]
    tax = [line.debit for draft in drafts for line in draft.lines if line.role == "tax_payable"]
    assert revenue == [D("909"), D("910"), D("909")]
    assert tax == [D("91"), D("90"), D("91")]
    assert sum(revenue) == D("2728") and sum(tax) == D("272")
    assert all(balanced(draft) for draft in drafts)


def test_refund_of_more_than_was_posted_is_refused():
    with pytest.raises(PostingRefused) as refused:
        build_refund(shopify_order(), refund("R9", (("L2", 1),)), [refund("R8", (("L2", 1),))], GROSS)
    assert refused.value.kinds == ["refund_exceeds_posted"]
    with pytest.raises(PostingRefused) as refused:
        build_refund(shopify_order(), refund("R9", (), shipping=D("10.01")), [], GROSS)
    assert refused.value.kinds == ["refund_exceeds_posted"]


def test_refund_whose_vendor_amount_exceeds_the_reversal_is_refused():
    with pytest.raises(PostingRefused) as refused:
        build_refund(shopify_order(), refund("R1", (("L1", 1),), amount=D("50.00")), [], GROSS)
    assert refused.value.kinds == ["refund_exceeds_posted"]
    assert "47.47" in str(refused.value)


def test_refund_in_another_currency_is_refused():
    with pytest.raises(PostingRefused) as refused:
        build_refund(shopify_order(), refund("R1", (("L1", 1),), currency="EUR"), [], GROSS)
    assert refused.value.kinds == ["currency_mismatch"]


def test_full_refund_of_every_line_and_shipping_mirrors_the_order_except_payments():
    order = shopify_order(payments=(PaymentDoc("p1", "stripe", D("195.30"), method="card"),))
    draft = build_refund(order, refund("R1", (("L1", 2), ("L2", 1), ("L3", 1)), shipping=D("10.00")), [], GROSS)
    posted = {(role, tuple(c.items())): (d, c2) for role, c, d, c2 in rows(build_order(order, GROSS))}
    for role, conditions, debit, credit in rows(draft):
        if role == "refunds":
            assert posted[("revenue", tuple(conditions.items()))] == (credit, debit)
        else:
            assert posted[(role, tuple(conditions.items()))] == (credit, debit)


# --- refunds with an amount and no lines (issue 14) --------------------------------------------


def test_lineless_refund_of_everything_left_mirrors_the_order_except_payments():
    draft = build_refund(card_only_order(), refund("W1", (), amount=D("195.30")), [], GROSS)
    assert rows(draft) == [
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("7.20"), D("0.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("8.10"), D("0.00")),
        ("shipping_income", WEB, D("10.00"), D("0.00")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("120.00"), D("0.00")),
        ("refunds", {**WEB, "product_category": "footwear"}, D("80.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("0.00"), D("9.00")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("0.00"), D("16.00")),
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("0.00"),
            D("5.00"),
        ),
        ("payment_clearing", CARD, D("0.00"), D("195.30")),
    ]
    assert draft.memo == "Refund W1 of order 1001 (no lines: everything left reversed)"


def test_lineless_refund_equal_to_what_a_partial_refund_left_reverses_exactly_the_rest():
    first = refund("R1", (("L1", 1),))
    draft = build_refund(card_only_order(), refund("W1", (), amount=D("147.83")), [first], GROSS)
    assert rows(draft) == [
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("5.45"), D("0.00")),
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("6.13"), D("0.00")),
        ("shipping_income", WEB, D("10.00"), D("0.00")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("70.00"), D("0.00")),
        ("refunds", {**WEB, "product_category": "footwear"}, D("80.00"), D("0.00")),
        ("discount", {**WEB, "product_category": "apparel", "promotion_funding": "merchant"}, D("0.00"), D("5.25")),
        ("discount", {**WEB, "product_category": "footwear", "promotion_funding": "merchant"}, D("0.00"), D("16.00")),
        (
            "vendor_funded_discount_receivable",
            {**WEB, "product_category": "apparel", "promotion_funding": "vendor"},
            D("0.00"),
            D("2.50"),
        ),
        ("payment_clearing", CARD, D("0.00"), D("147.83")),
    ]


def test_lineless_partial_refund_prorates_over_remaining_revenue_tax_and_shipping_by_largest_remainder():
    # 30.00 over weights 100 / 3.49 / 3.93 (L1), 80 / 2.57 / 2.89 (L2), 20 / 0.74 / 0.83 (L3),
    # 10 / 0.40 / 0.45 (shipping): floors take 29.95, the five cents go to the five largest
    # remainders (shipping NYC, L3 NY, L1 revenue, L2 NYC, L1 NY).
    draft = build_refund(card_only_order(), refund("W1", (), amount=D("30.00")), [], GROSS)
    assert rows(draft) == [
        ("tax_payable", {**WEB, "jurisdiction": "US-NY"}, D("0.96"), D("0.00")),  # .47 + .34 + .10 + .05
        ("tax_payable", {**WEB, "jurisdiction": "US-NY-NYC"}, D("1.08"), D("0.00")),  # .52 + .39 + .11 + .06
        ("shipping_income", WEB, D("1.33"), D("0.00")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("15.98"), D("0.00")),  # 13.32 + 2.66
        ("refunds", {**WEB, "product_category": "footwear"}, D("10.65"), D("0.00")),
        ("payment_clearing", CARD, D("0.00"), D("30.00")),
    ]
    assert draft.memo == "Refund W1 of order 1001 (no lines: pro rata over what is left)"


def test_prorated_then_final_lineless_refund_sum_exactly_to_what_the_order_posted():
    order = card_only_order()
    first = refund("W1", (), amount=D("30.00"))
    second = refund("W2", (), amount=D("165.30"))
    drafts = [build_refund(order, first, [], GROSS), build_refund(order, second, [first], GROSS)]
    reversed_ = defaultdict(D)
    for draft in drafts:
        assert balanced(draft)
        for role, conditions, debit, credit in rows(draft):
            role = "revenue" if role == "refunds" else role
            reversed_[(role, tuple(sorted(conditions.items())))] += debit - credit
    posted = {
        (role, tuple(sorted(conditions.items()))): credit - debit
        for role, conditions, debit, credit in rows(build_order(order, GROSS))
    }
    assert dict(reversed_) == posted


def test_lineless_partial_refund_to_the_refunds_account_by_policy():
    policy = Policy(unallocated_refunds="refunds_account")
    draft = build_refund(card_only_order(), refund("W1", (), amount=D("30.00")), [], policy)
    assert rows(draft) == [
        ("refunds", WEB, D("30.00"), D("0.00")),
        ("payment_clearing", CARD, D("0.00"), D("30.00")),
    ]
    # a later refund of the rest no longer equals what the lines have left: the policy again
    rest = build_refund(
        card_only_order(), refund("W2", (), amount=D("165.30")), [refund("W1", (), amount=D("30.00"))], policy
    )
    assert rows(rest) == [("refunds", WEB, D("165.30"), D("0.00")), ("payment_clearing", CARD, D("0.00"), D("165.30"))]


def test_lineless_refund_of_more_than_is_left_or_of_nothing_is_refused():
    with pytest.raises(PostingRefused) as refused:
        build_refund(card_only_order(), refund("W1", (), amount=D("147.84")), [refund("R1", (("L1", 1),))], GROSS)
    assert refused.value.kinds == ["refund_exceeds_posted"]
    assert "147.83" in str(refused.value)
    with pytest.raises(PostingRefused) as refused:
        build_refund(card_only_order(), refund("W1", ()), [], GROSS)
    assert refused.value.kinds == ["invalid"]


def test_line_refund_after_a_prorated_lineless_refund_never_reverses_more_than_is_left():
    order = card_only_order()
    earlier = [refund("W1", (), amount=D("30.00"))]
    rest = refund("R1", (("L1", 2), ("L2", 1), ("L3", 1)), shipping=D("10.00"))
    draft = build_refund(order, rest, earlier, GROSS)
    assert balanced(draft)
    assert [row for row in rows(draft) if row[0] == "payment_clearing"] == [
        ("payment_clearing", CARD, D("0.00"), D("165.30"))
    ]


def test_refund_mirrors_the_vendor_allocation_of_the_order_discount():
    order = replace(with_allocations("8.00", "5.00", "2.00"), payments=card_only_order().payments)
    draft = build_refund(order, refund("R1", (("L1", 1),)), [], GROSS)
    assert (
        "discount",
        {**WEB, "product_category": "apparel", "promotion_funding": "merchant"},
        D("0.00"),
        D("4.00"),
    ) in rows(draft)


def test_lineless_prorate_works_in_minor_units_for_zero_and_three_decimal_currencies():
    jpy = build_refund(jpy_order(), refund("J1", (), amount=D("1000"), currency="JPY", gateway="square"), [], GROSS)
    assert rows(jpy) == [  # 909.33 / 90.67: the one yen left goes to the tax's larger remainder
        ("tax_payable", {"channel": "pos", "jurisdiction": "JP"}, D("91"), D("0")),
        ("refunds", {"channel": "pos"}, D("909"), D("0")),
        ("payment_clearing", {"channel": "pos", "gateway": "square", "payment_method": "card"}, D("0"), D("1000")),
    ]
    kwd = build_refund(kwd_order(), refund("K1", (), amount=D("1.000"), currency="KWD", gateway="knet"), [], GROSS)
    assert rows(kwd) == [  # 588.235 / 294.118 / 117.647 fils: the fils left goes to shipping
        ("shipping_income", WEB, D("0.118"), D("0.000")),
        ("refunds", {**WEB, "product_category": "apparel"}, D("0.588"), D("0.000")),
        ("refunds", {**WEB, "product_category": "footwear"}, D("0.294"), D("0.000")),
        ("payment_clearing", {**WEB, "gateway": "knet", "payment_method": "debit"}, D("0.000"), D("1.000")),
    ]
