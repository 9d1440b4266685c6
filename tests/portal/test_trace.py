import datetime as dt
from dataclasses import replace

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order
from commerce.services import order_upsert
from connectors.models import InboundEvent
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from portal.trace import order_trace
from posting.erp.models import ErpPush
from posting.services import journal_post_order
from tests.commerce.factories import shopify_order
from triage.services import exception_raise


def _traced_order(world):
    with tenant_context(world.acme):
        shop = connection_create(vendor="shopify", name="Shop", config={"shop_domain": "acme.myshopify.com"})
        event = InboundEvent.objects.create(
            connection=shop,
            topic="orders/create",
            external_id="1001",
            payload_hash="h1",
            body="{}",
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        )
        placed = timezone.now() - dt.timedelta(hours=2)
        document = replace(shopify_order(), placed_at=placed, paid_at=placed)
        order = order_upsert(source="shopify", connection_id=shop.pk, document=document).obj
        Order.objects.filter(pk=order.pk).update(raw_event_id=event.pk)
        order.refresh_from_db()
        exception_raise(kind="mapping", cause="unmapped", obj=order, title="Order 1001 could not be posted")
        standard_chart_apply()
        entry = journal_post_order(order=order).entry
        ErpPush.objects.create(
            entry=entry,
            target_key="qbo",
            vendor="quickbooks",
            reference=f"TB-{entry.pk}",
            status="acked",
            external_id="QB-778",
            acked_at=timezone.now(),
        )
        return order, entry


def test_order_trace_gathers_every_step_of_the_journey(world):
    order, entry = _traced_order(world)
    with tenant_context(world.acme):
        trace = order_trace(order_id=order.pk)
    assert trace.trace_ids == ["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert [event.topic for event in trace.events] == ["orders/create"]
    assert [e.pk for e in trace.entries] == [entry.pk]
    assert [push.external_id for push in trace.pushes[entry.pk]] == ["QB-778"]
    assert [(o.exception.kind, o.resolution_reason) for o in trace.occurrences] == [
        ("mapping", f"Posted as journal entry {entry.pk}.")
    ]
    assert '"external_id": "1001"' in trace.document_json


def test_order_trace_page_shows_trace_id_lines_and_erp_id(world, host_client):
    order, entry = _traced_order(world)
    page = host_client(world.host(world.acme), world.acme_admin).get(f"/orders/{order.pk}/").content.decode()
    assert "4bf92f3577b34da6a3ce929d0e0e4736" in page
    assert f"Journal entry {entry.pk}" in page
    assert "ERP id <code>QB-778</code>" in page
    assert "Order 1001 could not be posted" in page
    assert '<td class="num">80.00</td>' in page and "80.0000" not in page  # USD amounts in cents


def test_orders_list_searches_and_links_to_the_trace(world, host_client):
    order, _ = _traced_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    assert f'href="/orders/{order.pk}/"' in client.get("/orders/?q=1001").content.decode()
    assert "No order matches" in client.get("/orders/?q=nothing-like-it").content.decode()


def test_another_tenants_member_gets_404_on_the_trace(world, host_client):
    order, _ = _traced_order(world)
    assert host_client(world.host(world.acme), world.bluebird_admin).get(f"/orders/{order.pk}/").status_code == 404
    assert host_client(world.host(world.bluebird), world.bluebird_admin).get(f"/orders/{order.pk}/").status_code == 404
