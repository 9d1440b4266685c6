import datetime as dt
from decimal import Decimal as D

import httpx
import pytest
import respx

from commerce.documents import (
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    FulfilmentDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from connectors.vendors.base import NormaliseError
from connectors.vendors.shopify.normalise import order_normalise, payout_normalise, refund_normalise
from tests.connectors.helpers import fixture

SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"
EDT = dt.timezone(dt.timedelta(hours=-4))


def ny(state: str, city: str, by: str = "merchant") -> tuple[TaxLineDoc, ...]:
    return (
        TaxLineDoc("NY State Tax", D("0.04"), D(state), by),
        TaxLineDoc("New York City Tax", D("0.045"), D(city), by),
    )


def test_order_normalises_to_the_exact_canonical_document():
    assert order_normalise(fixture("shopify", "orders_create.json")) == CanonicalOrder(
        external_id="5741329006917",
        source_version=1757686445000,
        currency="USD",
        placed_at=dt.datetime(2025, 9, 12, 10, 14, 3, tzinfo=EDT),
        paid_at=dt.datetime(2025, 9, 12, 10, 14, 2, tzinfo=EDT),
        channel="web",
        customer_ref="7210046554181",
        lines=(
            OrderLineDoc("14630918832197", "SOCK-MER-M", 2, D("18.00"), "", "Merino Crew Sock", ny("1.44", "1.62")),
            OrderLineDoc("14630918864965", "SHOE-TR-42", 1, D("129.00"), "", "Trail Runner Shoe", ny("4.64", "5.22")),
        ),
        discounts=(DiscountDoc(D("12.90"), code="SPRING10", line_external_id="14630918864965"),),
        shipping_lines=(ShippingLineDoc("4741937709125", D("10.00"), "Standard", "Standard", ny("0.40", "0.45")),),
        payments=(PaymentDoc("5741329006917:payment", "shopify_payments", D("175.87"), method="card"),),
        presentment_currency="CAD",
        presentment_amounts={"total": "240.94"},
        vendor_total=D("175.87"),
    )


def test_fulfilled_update_carries_the_fulfilment_and_a_newer_version():
    document = order_normalise(fixture("shopify", "orders_updated_fulfilled.json"))
    assert document.source_version == 1757764931000
    assert document.fulfilled_at == dt.datetime(2025, 9, 13, 8, 2, 10, tzinfo=EDT)
    assert document.fulfilments == (
        FulfilmentDoc(
            "5301184266309",
            dt.datetime(2025, 9, 13, 8, 2, 10, tzinfo=EDT),
            (("14630918832197", 2), ("14630918864965", 1)),
            "71283245125",
        ),
    )


def test_taxes_included_order_reads_shop_money_and_keeps_presentment_for_reference():
    document = order_normalise(fixture("shopify", "orders_create_taxes_included_gbp.json"))
    assert (document.currency, document.taxes_included, document.presentment_currency) == ("GBP", True, "EUR")
    assert document.lines == (
        OrderLineDoc(
            "14630921650245",
            "SHIRT-LIN-L",
            1,
            D("60.00"),
            "Shirts",
            "Linen Shirt",
            (TaxLineDoc("GB VAT", D("0.2"), D("10.00")),),
        ),
    )
    assert document.shipping_lines[0].amount == D("4.99")
    assert document.payments == (PaymentDoc("5741330710853:payment", "shopify_payments", D("64.99"), method="card"),)
    assert document.presentment_amounts == {"total": "74.89"}


def test_channel_liable_tax_is_collected_by_the_marketplace():
    document = order_normalise(fixture("shopify", "orders_create_marketplace_tax.json"))
    assert document.channel == "shop"
    assert [tax.collected_by for line in document.lines for tax in line.taxes] == ["marketplace"] * 4
    assert [tax.collected_by for tax in document.shipping_lines[0].taxes] == ["marketplace"] * 2


def test_refund_normalises_with_lines_restock_and_the_amount_paid_back():
    assert refund_normalise(fixture("shopify", "refunds_create.json"), currency="USD", taxes_included=False) == (
        CanonicalRefund(
            external_id="1015923171397",
            order_external_id="5741329006917",
            source_version=1758397649000,
            currency="USD",
            processed_at=dt.datetime(2025, 9, 20, 15, 47, 29, tzinfo=EDT),
            lines=(RefundLineDoc("14630918832197", 1, restock=True),),
            gateway="shopify_payments",
            amount=D("19.53"),
            reason="Wrong size",
        )
    )


def test_payout_normalises_balance_transactions_without_the_payout_row():
    assert payout_normalise(fixture("shopify", "payout_with_transactions.json")) == CanonicalPayout(
        external_id="623721858",
        source_version=2,
        currency="USD",
        arrival_date=dt.date(2025, 9, 16),
        amount=D("169.77"),
        gateway="shopify_payments",
        lines=(
            PayoutLineDoc("charge", D("175.87"), D("5.40"), "5741329006917", "699519475", "charge", "charge"),
            PayoutLineDoc("adjustment", D("-0.70"), D("0.00"), "460709370", "699519476", "adjustment", "adjustment"),
        ),
    )


def test_amounts_with_too_many_decimals_and_missing_fields_are_refused():
    order = fixture("shopify", "orders_create.json")
    order["line_items"][0]["price_set"]["shop_money"]["amount"] = "18.005"
    with pytest.raises(NormaliseError, match=r"price: 18\.005 has more decimals than USD allows\."):
        order_normalise(order)
    order = fixture("shopify", "orders_create.json")
    del order["created_at"]
    with pytest.raises(NormaliseError, match=r"The payload has no created_at\."):
        order_normalise(order)


def _gift_card_order() -> dict:
    order = fixture("shopify", "orders_create.json")
    order["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    return order


@respx.mock
def test_gift_card_share_is_read_from_the_orders_transactions_and_posted_to_the_liability(world):
    from django_tenants.utils import tenant_context

    from commerce.services import order_upsert
    from connectors.vendors.shopify.adapter import ShopifyAdapter
    from mappings.services import standard_chart_apply
    from posting.models import JournalLine
    from posting.services import journal_post_order
    from tests.connectors.factories import ConnectionFactory

    route = respx.get(f"{SHOP}/orders/5741329006917/transactions.json").mock(
        return_value=httpx.Response(200, json=fixture("shopify", "order_transactions_gift_card.json"))
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        [order] = ShopifyAdapter().documents(topic="orders/create", payload=_gift_card_order(), connection=conn)
        assert route.calls.last.request.url.params["in_shop_currency"] == "true"
        # the failed gift-card attempt is ignored; the card pays the rest of the line-level total
        assert order.payments == (
            PaymentDoc("5741329006917:payment", "shopify_payments", D("125.87"), method="card"),
            PaymentDoc("5741329006917:gift_card", "gift_card", D("50.00"), method="gift_card", is_gift_card=True),
        )
        stored = order_upsert(source="shopify", connection_id=conn.pk, document=order).obj
        entry = journal_post_order(order=stored).entry
        debits = {line.role: line.debit for line in JournalLine.objects.filter(entry=entry, debit__gt=0)}
        assert debits["gift_card_liability"] == D("50.00")
        assert debits["payment_clearing"] == D("125.87")


@respx.mock
def test_gift_cards_worth_more_than_the_order_are_refused(world):
    from django_tenants.utils import tenant_context

    from connectors.vendors.shopify.adapter import ShopifyAdapter
    from tests.connectors.factories import ConnectionFactory

    transactions = fixture("shopify", "order_transactions_gift_card.json")
    transactions["transactions"][1]["amount"] = "500.00"
    respx.get(f"{SHOP}/orders/5741329006917/transactions.json").mock(
        return_value=httpx.Response(200, json=transactions)
    )
    with tenant_context(world.acme), pytest.raises(NormaliseError, match=r"gift cards paid 500\.00 USD"):
        ShopifyAdapter().documents(topic="orders/create", payload=_gift_card_order(), connection=ConnectionFactory())


def test_orders_paid_by_one_gateway_need_no_transactions_call():
    from connectors.vendors.shopify.normalise import needs_transactions

    plain = fixture("shopify", "orders_create.json")
    assert not needs_transactions(plain)
    only_gift = {**plain, "payment_gateway_names": ["gift_card"]}
    assert not needs_transactions(only_gift)
    assert needs_transactions(_gift_card_order())
