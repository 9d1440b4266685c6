"""Return KPIs (commerce/returns_selectors.py) on hand-computed data: return rate, refund lag
(received → refunded), warehouse rework (refurbish share); the queue's filters."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.models import Return
from commerce.returns import LineRequest, return_create
from commerce.returns_selectors import return_kpis, returns_by_status, returns_chart, returns_list
from commerce.services import order_upsert
from tests.commerce.factories import PAID_AT, shopify_order

T0 = PAID_AT


@pytest.fixture
def acme(world):
    with tenant_context(world.acme):
        yield world


def _order(n: int):
    document = shopify_order(external_id=f"K{n}", placed_at=T0 + dt.timedelta(days=n))
    return order_upsert(source="shopify", connection_id=7, document=document).obj


def _return(order, status, *, tee=0, boot=0, refurbish=False, received_h=None, refunded_h=None):
    disposition = "refurbish" if refurbish else "restock"
    lines = []
    if tee:
        lines.append(LineRequest(order.lines.get(external_id="L1"), tee, "", disposition))
    if boot:
        lines.append(LineRequest(order.lines.get(external_id="L2"), boot, "", "restock"))
    ret = return_create(order=order, lines=lines)
    Return.objects.filter(pk=ret.pk).update(
        status=status,
        received_at=T0 + dt.timedelta(hours=received_h) if received_h is not None else None,
        refunded_at=T0 + dt.timedelta(hours=refunded_h) if refunded_h is not None else None,
    )
    return ret


def test_kpis_on_hand_computed_returns(acme):
    orders = [_order(n) for n in range(8)]  # 8 orders
    _return(orders[0], "refunded", tee=2, refurbish=True, received_h=10, refunded_h=34)  # lag 24 h
    _return(orders[1], "closed", boot=1, received_h=20, refunded_h=80)  # lag 60 h
    _return(orders[2], "received", tee=1, boot=1, received_h=30)  # not refunded: no lag
    _return(orders[3], "rejected", tee=1)  # rejected: not a returned order
    _return(orders[4], "requested", tee=1)
    kpis = return_kpis()
    # returned orders: 0, 1, 2, 4 → 4 of 8 = 50.0 %
    assert (kpis.orders, kpis.returned_orders, kpis.return_rate) == (8, 4, D("50.0"))
    # lag: (24 + 60) / 2 = 42.0 h
    assert (kpis.refunded, kpis.refund_lag_hours) == (2, D("42.0"))
    # received units: 2 + 1 + 2 = 5, refurbished 2 → 40.0 %
    assert (kpis.received_units, kpis.refurbished_units, kpis.rework_share) == (5, 2, D("40.0"))


def test_kpis_in_a_window(acme):
    orders = [_order(n) for n in range(4)]  # placed T0 + 0..3 days
    _return(orders[3], "refunded", tee=1, received_h=80, refunded_h=83)
    _return(orders[0], "refunded", tee=1, refurbish=True, received_h=5, refunded_h=15)
    kpis = return_kpis(since=T0 + dt.timedelta(days=2), until=T0 + dt.timedelta(days=5))
    assert (kpis.orders, kpis.returned_orders, kpis.return_rate) == (2, 1, D("50.0"))
    assert (kpis.refund_lag_hours, kpis.rework_share) == (D("3.0"), D("0.0"))


def test_no_data_gives_no_figures(acme):
    kpis = return_kpis()
    assert (kpis.return_rate, kpis.refund_lag_hours, kpis.rework_share) == (None, None, None)


def test_queue_filters_and_counts(acme):
    first = _return(_order(1), "requested", tee=1)
    _return(_order(2), "approved", tee=1)
    assert [r.pk for r in returns_list(status="requested")] == [first.pk]
    assert [r.order.external_id for r in returns_list(search="K2")] == ["K2"]
    assert returns_by_status()["requested"] == 1 and returns_by_status()["closed"] == 0
    chart = returns_chart()
    assert chart["labels"][:2] == ["Requested", "Approved"] and chart["datasets"][0]["data"][:2] == [1, 1]
