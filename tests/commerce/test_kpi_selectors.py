"""The commerce reads behind the order KPIs: objects to their order, shipping times."""

import datetime as dt
from dataclasses import replace

from django_tenants.utils import tenant_context

from commerce.kpi_selectors import fulfilment_policy_get, orders_of_events, orders_of_objects, orders_shipping
from commerce.models import Fulfilment, Order
from commerce.services import order_upsert
from tests.commerce.factories import shopify_order

PLACED = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)


def _order(external_id: str, placed_at: dt.datetime = PLACED) -> Order:
    document = replace(shopify_order(), external_id=external_id, placed_at=placed_at, paid_at=placed_at)
    return order_upsert(source="shopify", connection_id=1, document=document).obj


def test_payments_and_fulfilments_lead_to_their_order_and_unknown_ids_are_left_out(world):
    with tenant_context(world.acme):
        order = _order("K1")
        payment = order.payments.first()
        shipped = Fulfilment.objects.create(order=order, external_id="F1", fulfilled_at=PLACED)
        found = orders_of_objects(
            objects={
                "commerce.payment": [str(payment.pk), "999999", "not-a-number"],
                "commerce.fulfilment": [str(shipped.pk)],
                "commerce.refund": [],
            }
        )
    assert found == {
        "commerce.payment": {str(payment.pk): order.pk},
        "commerce.fulfilment": {str(shipped.pk): order.pk},
        "commerce.refund": {},
    }


def test_a_raw_event_leads_to_the_order_it_wrote(world):
    with tenant_context(world.acme):
        order = _order("K2")
        Order.objects.filter(pk=order.pk).update(raw_event_id=4242)
        assert orders_of_events(event_ids=["4242", "4343", "x"]) == {"4242": order.pk}


def test_orders_shipping_gives_the_first_shipment_and_the_window_bounds(world):
    with tenant_context(world.acme):
        order = _order("K3")
        for hours in (30, 6):
            Fulfilment.objects.create(
                order=order, external_id=f"F{hours}", fulfilled_at=PLACED + dt.timedelta(hours=hours)
            )
        _order("OUT", PLACED + dt.timedelta(days=2))
        shipping = orders_shipping(since=PLACED, until=PLACED + dt.timedelta(days=1))
        policy = fulfilment_policy_get()
    assert list(shipping) == [order.pk]
    assert shipping[order.pk].first_shipped_at == PLACED + dt.timedelta(hours=6)
    assert (shipping[order.pk].paid_at, shipping[order.pk].cancelled) == (PLACED, False)
    assert policy.ship_sla_hours == 48
