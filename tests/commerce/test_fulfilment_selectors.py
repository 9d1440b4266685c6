"""The fulfilment KPIs on hand-computed data, and the board's states."""

import datetime as dt

from django_tenants.utils import tenant_context

from commerce.documents import CanonicalShipment, ShipmentLineDoc
from commerce.fulfilment import fulfilment_channel_result, request_sent, shipment_record
from commerce.fulfilment_selectors import (
    fulfilment_board,
    order_allocation_exception_rate,
    order_cycle_time,
    percentile_nearest_rank,
)
from commerce.routing import order_route
from tests.commerce.fulfilment_helpers import PAID, location, paid_order, rule


def _ship(order, hours: float, *, quantity: int = 1):
    request = order.fulfilment_requests.get()
    request_sent(request=request, external_id=f"SS-{order.pk}")
    return shipment_record(
        connection_id=None,
        document=CanonicalShipment(
            external_id=f"shp-{order.pk}",
            shipped_at=order.paid_at + dt.timedelta(hours=hours),
            lines=(ShipmentLineDoc("TEE", quantity),),
            warehouse_order_id=f"SS-{order.pk}",
            order_key=request.order_key,
        ),
    ).fulfilment


def test_percentile_is_nearest_rank():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert (percentile_nearest_rank(values, 0.5), percentile_nearest_rank(values, 0.9)) == (3.0, 10.0)
    assert percentile_nearest_rank([7.0], 0.9) == 7.0


def test_cycle_time_median_and_p90_from_paid_to_first_shipment(world):
    with tenant_context(world.acme):
        rule(location("east", {"TEE": 100}))
        hours = [1, 2, 3, 4, 10, 0.5]
        orders = [paid_order(external_id=f"O{index}", lines=(("L1", "TEE", 1),)) for index in range(6)]
        for order in orders:
            order_route(order=order)
        for order, wait in zip(orders[:5], hours[:5], strict=True):
            _ship(order, wait)
        # Every shipment is after PAID: a window starting there changes nothing.
        assert order_cycle_time() == order_cycle_time(since=PAID)
        result = order_cycle_time()
        assert (result.orders, result.median_hours, result.p90_hours) == (5, 3.0, 10.0)
        _ship(orders[5], 0.5)  # six values 0.5,1,2,3,4,10: median (2+3)/2, p90 rank ceil(5.4)=6
        result = order_cycle_time()
        assert (result.orders, result.median_hours, result.p90_hours) == (6, 2.5, 10.0)
        assert order_cycle_time(since=PAID + dt.timedelta(days=1)).orders == 0


def test_allocation_exception_rate_counts_backorders_over_routed_orders(world):
    with tenant_context(world.acme):
        rule(location("east", {"TEE": 3}))
        for index in range(3):
            order_route(order=paid_order(external_id=f"ok{index}", lines=(("L1", "TEE", 1),)))
        order_route(order=paid_order(external_id="short", lines=(("L1", "TEE", 5),)))
        rate = order_allocation_exception_rate()
        assert (rate.orders, rate.with_exception, rate.rate) == (4, 1, 0.25)


def test_board_puts_each_order_in_its_state(world):
    with tenant_context(world.acme):
        rule(location("east", {"TEE": 100}))
        waiting, sent, shipped, acknowledged = (
            paid_order(external_id=name, lines=(("L1", "TEE", 1),)) for name in ("w", "s", "sh", "ack")
        )
        for order in (waiting, sent, shipped, acknowledged):
            order_route(order=order)
        request_sent(request=sent.fulfilment_requests.get(), external_id="SS-s")
        _ship(shipped, 2)
        fulfilment_channel_result(fulfilment=_ship(acknowledged, 3), reference="f1", acknowledged=True)
        board = fulfilment_board()
        assert board.counts == {"waiting": 1, "sent": 1, "shipped": 1, "acknowledged": 1}
        assert {state: [o.external_id for o in orders] for state, orders in board.columns.items()} == {
            "waiting": ["w"],
            "sent": ["s"],
            "shipped": ["sh"],
            "acknowledged": ["ack"],
        }
