from decimal import Decimal as D

from tests.portal.test_trace import _traced_order


def test_order_trace_api_returns_what_the_trace_page_shows(world, make_key, api_client, throttle_reset):
    order, entry = _traced_order(world)
    api = api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))
    response = api.get(f"/api/v1/orders/{order.pk}/trace/")
    assert response.status_code == 200, response.content
    trace = response.json()
    assert (trace["order"]["id"], trace["order"]["external_id"]) == (order.pk, "1001")
    assert trace["trace_ids"] == ["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert [(event["topic"], event["trace_id"]) for event in trace["events"]] == [
        ("orders/create", "4bf92f3577b34da6a3ce929d0e0e4736")
    ]
    assert "body" not in trace["events"][0]
    assert trace["document"]["external_id"] == "1001"
    [posted] = trace["entries"]
    assert (posted["id"], posted["source_key"]) == (entry.pk, entry.source_key)
    assert (
        sum(D(line["debit"]) for line in posted["lines"])
        == D("225.30")
        == sum(D(line["credit"]) for line in posted["lines"])
    )
    assert [(push["vendor"], push["external_id"], push["status"]) for push in posted["erp_pushes"]] == [
        ("quickbooks", "QB-778", "acked")
    ]
    assert [(e["kind"], e["title"], e["resolved_at"] is not None) for e in trace["exceptions"]] == [
        ("mapping", "Order 1001 could not be posted", True)
    ]
    assert trace["payout_lines"] == []


def test_order_trace_api_is_404_for_another_tenant_and_403_without_read(world, make_key, api_client, throttle_reset):
    order, _entry = _traced_order(world)
    host = world.host(world.acme)
    assert (
        api_client(host, make_key(scopes=["read"], tenant=world.bluebird))
        .get(f"/api/v1/orders/{order.pk}/trace/")
        .status_code
        == 404
    )
    assert (
        api_client(world.host(world.bluebird), make_key(scopes=["read"], tenant=world.bluebird))
        .get(f"/api/v1/orders/{order.pk}/trace/")
        .status_code
        == 404
    )
    assert (
        api_client(host, make_key(scopes=["write"], tenant=world.acme))
        .get(f"/api/v1/orders/{order.pk}/trace/")
        .status_code
        == 403
    )
    assert (
        api_client(host, make_key(scopes=["read"], tenant=world.acme)).get("/api/v1/orders/999999/trace/").status_code
        == 404
    )
