import datetime as dt
from decimal import Decimal as D

import httpx
import pytest
import respx
from django_tenants.utils import tenant_context

from commerce.documents import (
    CanonicalRefund,
    DiscountDoc,
    OrderLineDoc,
    PaymentDoc,
    RefundLineDoc,
    ShipToDoc,
    TaxLineDoc,
)
from commerce.models import Order, Refund
from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from connectors.vendors import adapter_for_vendor
from connectors.vendors.woocommerce.normalise import order_normalise, refund_normalise, ship_to
from core.http import netsafety
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes, woocommerce_headers

SECRET = "wc-webhook-secret-7Hq"
STORE = "https://shop.example.co.uk/wp-json/wc/v3"


@pytest.fixture
def woo(world, monkeypatch):
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.216.34"])
    with tenant_context(world.acme):
        return ConnectionFactory(
            vendor="woocommerce",
            config={"store_url": "https://shop.example.co.uk"},
            secrets={
                "credentials": {"consumer_key": "ck_abc123", "consumer_secret": "cs_def456"},
                "webhook_secret": SECRET,
            },
        )


def test_prices_including_tax_keep_the_shelf_price_and_the_line_discount():
    document = order_normalise(fixture("woocommerce", "order_created.json"))
    vat = D("0.2")
    assert (document.external_id, document.currency, document.taxes_included) == ("727", "GBP", True)
    assert document.lines == (
        OrderLineDoc(
            "315", "MUG-ENM-SAGE", 2, D("12.00"), "", "Enamel Mug - Sage", (TaxLineDoc("VAT", vat, D("3.33")),)
        ),
        OrderLineDoc("316", "TOWEL-LIN", 1, D("30.00"), "", "Linen Tea Towel", (TaxLineDoc("VAT", vat, D("4.67")),)),
    )
    assert document.discounts == (
        DiscountDoc(D("4.00"), code="summer6", line_external_id="315"),
        DiscountDoc(D("2.00"), code="summer6", line_external_id="316"),
    )
    assert document.shipping_lines[0].amount == D("4.00")
    assert document.payments == (
        PaymentDoc("ch_3PkT0u2eZvKYlo2C0Wc8aB3d", "stripe", D("52.00"), method="Credit Card (Stripe)"),
    )
    assert document.paid_at == dt.datetime(2025, 8, 4, 13, 21, 11, tzinfo=dt.UTC)
    assert document.vendor_total == D("52.00")


def test_refund_lines_are_tied_by_refunded_item_id():
    assert refund_normalise(fixture("woocommerce", "order_727_refunds.json")[0], order_id="727", currency="GBP") == (
        CanonicalRefund(
            external_id="731",
            order_external_id="727",
            source_version=1754470800000,
            currency="GBP",
            processed_at=dt.datetime(2025, 8, 6, 9, 0, tzinfo=dt.UTC),
            lines=(RefundLineDoc("316", 1),),
            amount=D("28.00"),
            reason="Arrived torn",
        )
    )


def test_ping_is_answered_without_storing_and_signatures_are_checked(world, host_client, woo):
    client = host_client(world.host(world.acme))
    url = f"/hooks/woocommerce/{woo.pk}/"
    ping = client.post(url, data=b"webhook_id=14", content_type="application/x-www-form-urlencoded")
    assert (ping.status_code, ping.json()) == (200, {"status": "ping"})
    body = fixture_bytes("woocommerce", "order_created.json")
    bad = client.post(
        url, data=body, content_type="application/json", **woocommerce_headers(body, "x", "order.created")
    )
    assert bad.status_code == 401
    good = client.post(
        url, data=body, content_type="application/json", **woocommerce_headers(body, SECRET, "order.created")
    )
    assert good.status_code == 200
    with tenant_context(world.acme):
        assert list(InboundEvent.objects.values_list("topic", "external_id")) == [("order.created", "727")]


@respx.mock
def test_order_then_refunded_update_posts_the_order_and_the_refund(world, woo):
    route = respx.get(f"{STORE}/orders/727/refunds").mock(
        return_value=httpx.Response(200, json=fixture("woocommerce", "order_727_refunds.json"))
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        for name, topic in (("order_created.json", "order.created"), ("order_updated_refunded.json", "order.updated")):
            event, _ = event_store(
                connection=woo, topic=topic, external_id="727", body=fixture_bytes("woocommerce", name), dispatch=False
            )
            processed = event_process(event_id=event.pk)
            assert processed.status == "processed", processed.last_error
        assert Order.objects.get().source_version == 1754470802000
        assert Refund.objects.get().amount == D("28.00")
        assert [
            key.split(":")[0] for key in JournalEntry.objects.order_by("pk").values_list("source_key", flat=True)
        ] == ["order", "refund"]  # the "refunded" version of the order changes nothing it posts
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())
    assert route.calls[0].request.headers["Authorization"].startswith("Basic ")


@respx.mock
def test_a_store_url_that_resolves_to_a_private_address_is_refused(world, woo, monkeypatch):
    from django_redis import get_redis_connection

    from connectors.sync import sync_run_start, sync_run_step

    get_redis_connection("default").flushdb()
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["10.1.2.3"])
    with tenant_context(world.acme):
        run = sync_run_start(connection=woo)
        run = sync_run_step(run_id=run.pk, step=0)
        assert (run.status, run.error) == (
            "failed",
            "The URL points at a private, loopback, link-local or reserved address.",
        )


def test_ship_to_is_the_orders_shipping_address():
    payload = fixture("woocommerce", "docs_order_727.json")
    assert ship_to(topic="order.created", payload=payload) == ShipToDoc(
        name="John Doe", street1="969 Market", city="San Francisco", state="CA", postal_code="94103", country="US"
    )
    assert adapter_for_vendor("woocommerce").ship_to(topic="orders", payload=payload).postal_code == "94103"


def test_ship_to_without_a_shipping_address_is_none():
    payload = fixture("woocommerce", "docs_order_727.json")
    assert ship_to(topic="order.created", payload={**payload, "shipping": {"first_name": "", "country": ""}}) is None
    assert ship_to(topic="order.created", payload={**payload, "shipping": []}) is None
    assert ship_to(topic="coupon.created", payload=payload) is None
