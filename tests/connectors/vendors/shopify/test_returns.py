"""Shopify returns: the stored samples normalise exactly, and through the inbox become a Return
walked along the lifecycle (request → approve → close; decline)."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.documents_returns import CanonicalReturn, ReturnLineDoc
from commerce.models import Return
from connectors.inbox import event_process, event_store
from connectors.vendors.base import NormaliseError
from connectors.vendors.shopify.adapter import ShopifyAdapter
from connectors.vendors.shopify.returns import RETURN_TOPICS, return_normalise
from mappings.services import standard_chart_apply
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes

REQUESTED_AT = dt.datetime(2025, 7, 24, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


def test_request_normalises_lines_fees_and_status():
    assert return_normalise(fixture("shopify", "returns_request.json")) == CanonicalReturn(
        external_id="945000959",
        order_external_id="5741329006917",
        source_version=1,
        status="requested",
        requested_at=REQUESTED_AT,
        lines=(ReturnLineDoc("14630918832197", 1, "size_too_small — Runs small", "611282141"),),
        name="#1042-R1",
        reason="size_too_small — Runs small",
        restocking_fee=D("1.20"),
        shipping_cost=D("5.00"),
        shipping_paid_by="customer",
    )


@pytest.mark.parametrize(
    ("name", "status", "version"),
    [
        ("returns_approve.json", "approved", 2),
        ("returns_decline.json", "rejected", 3),
        ("returns_close.json", "closed", 4),
    ],
)
def test_each_topic_sample_maps_its_status_and_rank(name, status, version):
    document = return_normalise(fixture("shopify", name))
    assert (document.external_id, document.order_external_id, document.status, document.source_version) == (
        "945000959",
        "5741329006917",
        status,
        version,
    )


def test_an_unknown_status_or_a_missing_order_is_a_normalise_error():
    with pytest.raises(NormaliseError, match="not a Shopify return status"):
        return_normalise({**fixture("shopify", "returns_request.json"), "status": "lost"})
    payload = fixture("shopify", "returns_request.json")
    del payload["order"]
    with pytest.raises(NormaliseError, match="names no order"):
        return_normalise(payload)


def test_the_adapter_routes_every_returns_topic():
    assert set(RETURN_TOPICS) <= set(ShopifyAdapter.topics)


def _process(conn, topic, name):
    body = fixture_bytes("shopify", name)
    event, _ = event_store(connection=conn, topic=topic, external_id="945000959", body=body, dispatch=False)
    return event_process(event_id=event.pk)


def test_webhooks_walk_the_return_through_the_inbox(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event, _ = event_store(
            connection=conn,
            topic="orders/create",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_create.json"),
            dispatch=False,
        )
        event_process(event_id=event.pk)
        assert _process(conn, "returns/request", "returns_request.json").status == "processed"
        ret = Return.objects.get()
        assert (ret.status, ret.origin, ret.restocking_fee, ret.shipping_paid_by) == (
            "requested",
            "channel",
            D("1.2000"),
            "customer",
        )
        assert _process(conn, "returns/approve", "returns_approve.json").status == "processed"
        assert _process(conn, "returns/close", "returns_close.json").status == "processed"
        ret.refresh_from_db()
        assert ret.status == "closed"
        assert list(ret.lines.values_list("order_line__sku", "restocked")) == [("SOCK-MER-M", D("1.000"))]


def test_a_return_before_its_order_waits_for_it(world):
    with tenant_context(world.acme):
        processed = _process(ConnectionFactory(), "returns/request", "returns_request.json")
        assert processed.status != "processed"
        assert "5741329006917" in processed.last_error
