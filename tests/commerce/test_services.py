from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from commerce.documents import OrderLineDoc, PayoutLineDoc
from commerce.models import Order, OrderLine, Payout, Refund, TaxLine
from commerce.selectors import order_document, payout_document, refund_document
from commerce.services import order_upsert, payout_upsert, refund_upsert
from commerce.upserts import UpsertOutcome
from tests.commerce.factories import refund, shopify_order, stripe_payout


def test_order_upsert_creates_then_is_idempotent_for_the_same_version(world):
    with tenant_context(world.acme):
        first = order_upsert(source="shopify", connection_id=7, document=shopify_order())
        again = order_upsert(source="shopify", connection_id=7, document=shopify_order())
        assert (first.outcome, again.outcome) == (UpsertOutcome.CREATED, UpsertOutcome.UNCHANGED)
        assert again.obj.pk == first.obj.pk
        assert Order.objects.count() == 1
        order = first.obj
        assert list(order.lines.values_list("external_id", "gross", "discount_total", "net")) == [
            ("L1", D("100.0000"), D("5.0000"), D("95.0000")),
            ("L2", D("80.0000"), D("10.0000"), D("70.0000")),
            ("L3", D("20.0000"), D("0.0000"), D("20.0000")),
        ]
        assert TaxLine.objects.filter(order=order).count() == 8
        assert order.presentment_amounts == {"total": "266.10"}


def test_order_document_round_trips_through_the_database(world):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=7, document=shopify_order()).obj
        assert order_document(order=order) == shopify_order()


def test_newer_version_updates_and_older_version_is_ignored(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order(source_version=5))
        newer = order_upsert(source="shopify", connection_id=7, document=shopify_order(source_version=6, store="soho"))
        stale = order_upsert(source="shopify", connection_id=7, document=shopify_order(source_version=4, store="old"))
        assert (newer.outcome, stale.outcome) == (UpsertOutcome.UPDATED, UpsertOutcome.IGNORED_STALE)
        order = Order.objects.get()
        assert (order.source_version, order.store) == (6, "soho")
        assert order.lines.count() == 3


def test_same_external_id_from_another_connection_is_another_order(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order())
        order_upsert(source="shopify", connection_id=8, document=shopify_order())
        order_upsert(source="shopify", connection_id=None, document=shopify_order())
        order_upsert(source="shopify", connection_id=None, document=shopify_order())
        assert Order.objects.count() == 3


def test_negative_quantity_and_excess_discount_name_their_fields(world):
    bad = shopify_order(lines=(OrderLineDoc("L1", "TEE", -1, D("50.00")),), discounts=())
    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        order_upsert(source="shopify", connection_id=7, document=bad)
    assert error.value.message_dict == {"lines[0].quantity": ["-1 must be a positive integer."]}
    too_much = shopify_order(discounts=(replace(shopify_order().discounts[0], amount=D("80.01")),))
    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        order_upsert(source="shopify", connection_id=7, document=too_much)
    assert error.value.message_dict == {"discounts": ["Discounts on line 'L2' exceed its gross amount."]}


def test_amount_with_more_decimals_than_the_currency_is_refused(world):
    line = OrderLineDoc("J1", "MUG", 1, D("50.50"))
    bad = shopify_order(currency="JPY", lines=(line,), discounts=(), shipping_lines=(), payments=(), vendor_total=None)
    with tenant_context(world.acme), pytest.raises(ValidationError) as error:
        order_upsert(source="shopify", connection_id=7, document=bad)
    assert error.value.message_dict == {"lines[0].unit_price": ["50.50 has more decimals than JPY allows."]}


def test_refund_upsert_is_idempotent_and_refuses_more_than_ordered_or_another_currency(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order())
        first = refund_upsert(source="shopify", connection_id=7, document=refund("R1", (("L1", 1),)))
        again = refund_upsert(source="shopify", connection_id=7, document=refund("R1", (("L1", 1),)))
        assert (first.outcome, again.outcome) == (UpsertOutcome.CREATED, UpsertOutcome.UNCHANGED)
        with pytest.raises(ValidationError) as error:
            refund_upsert(source="shopify", connection_id=7, document=refund("R2", (("L1", 2),)))
        assert error.value.message_dict == {
            "lines[0].quantity": ["Refunding 2 of line 'L1' but only 1 left to refund."]
        }
        with pytest.raises(ValidationError) as error:
            refund_upsert(source="shopify", connection_id=7, document=refund("R3", (("L3", 1),), currency="EUR"))
        assert error.value.message_dict == {"currency": ["The refund is in EUR but the order is in USD."]}
        with pytest.raises(ValidationError) as error:
            refund_upsert(source="shopify", connection_id=7, document=refund("R4", (), shipping=D("10.01")))
        assert error.value.message_dict == {
            "shipping": ["Refunding 10.01 of shipping but only 10.0000 left to refund."]
        }
        assert Refund.objects.count() == 1
        assert refund_document(refund=first.obj) == refund("R1", (("L1", 1),))


def test_refunded_line_cannot_be_dropped_by_a_new_order_version(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order())
        refund_upsert(source="shopify", connection_id=7, document=refund("R1", (("L1", 1),)))
        newer = shopify_order(source_version=2, lines=shopify_order().lines[1:], discounts=())
        with pytest.raises(ValidationError) as error:
            order_upsert(source="shopify", connection_id=7, document=newer)
        assert error.value.message_dict == {"lines": ["A refunded line cannot be removed from the order."]}
        assert OrderLine.objects.count() == 3


def test_payout_upsert_round_trip_stale_and_bad_line_type(world):
    with tenant_context(world.acme):
        created = payout_upsert(source="stripe", connection_id=3, document=stripe_payout(source_version=2))
        stale = payout_upsert(source="stripe", connection_id=3, document=stripe_payout(source_version=1))
        assert (created.outcome, stale.outcome) == (UpsertOutcome.CREATED, UpsertOutcome.IGNORED_STALE)
        assert payout_document(payout=created.obj) == stripe_payout(source_version=2)
        bad = stripe_payout(external_id="po_2", lines=(PayoutLineDoc("bonus", D("1.00")),))
        with pytest.raises(ValidationError) as error:
            payout_upsert(source="stripe", connection_id=3, document=bad)
        assert error.value.message_dict == {"lines[0].type": ["'bonus' is not a payout line type."]}
        assert Payout.objects.count() == 1


def test_refund_with_an_amount_and_no_lines_is_accepted_and_round_trips(world):
    with tenant_context(world.acme):
        order_upsert(source="woocommerce", connection_id=7, document=shopify_order())
        document = refund("W1", (), amount=D("195.30"), reason="Order fully refunded")
        stored = refund_upsert(source="woocommerce", connection_id=7, document=document).obj
        assert (stored.lines.count(), stored.amount) == (0, D("195.3000"))
        assert refund_document(refund=stored) == document


def test_payout_line_fee_keeps_its_sign_and_vendor_type_round_trips(world):
    with tenant_context(world.acme):
        lines = (
            PayoutLineDoc("charge", D("41.44"), fee=D("-0.46"), reference="1001"),
            PayoutLineDoc("other", D("1.00"), vendor_type="credit"),
        )
        document = stripe_payout(amount=D("42.90"), lines=lines)
        payout = payout_upsert(source="shopify", connection_id=7, document=document).obj
        assert payout_document(payout=payout) == document


def test_vendor_discount_allocations_round_trip_and_bad_ones_are_refused(world):
    with tenant_context(world.acme):
        order = shopify_order()
        shares = (D("8.00"), D("5.00"), D("2.00"))
        lines = tuple(
            replace(line, discount_allocations=((2, share),)) for line, share in zip(order.lines, shares, strict=True)
        )
        allocated = replace(order, lines=lines)
        stored = order_upsert(source="shopify", connection_id=7, document=allocated).obj
        assert order_document(order=stored) == allocated
        for bad, field in [
            (((5, D("1.00")),), "lines[0].discount_allocations[0]"),  # no such discount
            (((0, D("1.00")),), "lines[0].discount_allocations[0]"),  # a line-level discount
            (((2, D("1.001")),), "lines[0].discount_allocations[0].amount"),
            (("nonsense",), "lines[0].discount_allocations[0]"),
        ]:
            document = replace(
                order, external_id="X", lines=(replace(order.lines[0], discount_allocations=bad), *order.lines[1:])
            )
            with pytest.raises(ValidationError) as error:
                order_upsert(source="shopify", connection_id=7, document=document)
            assert field in error.value.message_dict, bad


def test_payout_fees_keep_their_sign_and_unknown_vendor_lines_are_stored_as_other(world):
    lines = (
        PayoutLineDoc("refund", D("-3.54"), fee=D("-0.23"), vendor_type="refund"),
        PayoutLineDoc("other", D("5.00"), external_id="1", vendor_type="anomaly_credit"),
    )
    document = stripe_payout(amount=D("1.69"), lines=lines)
    with tenant_context(world.acme):
        stored = payout_upsert(source="shopify", connection_id=3, document=document).obj
        assert list(stored.lines.values_list("type", "amount", "fee", "vendor_type")) == [
            ("refund", D("-3.54"), D("-0.23"), "refund"),
            ("other", D("5.00"), D("0.00"), "anomaly_credit"),
        ]
        assert payout_document(payout=stored) == document


def test_a_payment_with_a_blank_gateway_is_stored_on_the_default_gateway(world):
    order = shopify_order()
    payments = tuple(
        replace(payment, gateway=" ") if payment.external_id == "p1" else payment for payment in order.payments
    )
    with tenant_context(world.acme):
        stored = order_upsert(source="shopify", connection_id=7, document=replace(order, payments=payments)).obj
        assert sorted(stored.payments.values_list("external_id", "gateway")) == [
            ("p1", "manual"),
            ("p2", "shopify_gift_card"),
        ]


def test_a_refund_with_an_amount_and_no_lines_is_stored_with_its_amount(world):
    with tenant_context(world.acme):
        order_upsert(source="shopify", connection_id=7, document=shopify_order())
        stored = refund_upsert(source="shopify", connection_id=7, document=refund("R9", (), amount=D("19.53"))).obj
        assert (stored.amount, stored.lines.count(), stored.shipping) == (D("19.53"), 0, D("0.00"))
        assert refund_document(refund=stored).lines == ()
