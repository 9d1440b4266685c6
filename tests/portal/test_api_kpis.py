"""GET /api/v1/kpis/ (tenant) and /api/v1/partner-kpis/ (partner console)."""

import datetime as dt
from dataclasses import replace

from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from tests.commerce.factories import shopify_order
from tests.tenants.conftest import api_client, make_key  # noqa: F401 - the API key fixtures
from triage.services import exception_raise


def _failing_order(external_id: str) -> None:
    placed = timezone.now() - dt.timedelta(days=1)
    document = replace(shopify_order(), external_id=external_id, placed_at=placed, paid_at=placed)
    order = order_upsert(source="shopify", connection_id=1, document=document).obj
    exception_raise(kind="mapping", cause="unmapped", obj=order, title="No revenue account")


def test_a_tenant_key_reads_its_kpis(world, make_key, api_client):  # noqa: F811
    with tenant_context(world.acme):
        _failing_order("A1")
        _failing_order("A2")
    key = make_key(tenant=world.acme, scopes=["read"])
    body = api_client(world.host(world.acme), key).get("/api/v1/kpis/?days=7").json()
    assert (body["days"], body["orders"]) == (7, 2)
    assert body["exceptions"] == {"count": 2, "orders": 2, "per_1000_orders": 1000.0}
    assert body["perfect_orders"]["judged"] == 2
    assert body["activation"] == {"checked": 0, "matching": 0, "share": None}


def test_a_bad_window_is_a_400(world, make_key, api_client):  # noqa: F811
    key = make_key(tenant=world.acme, scopes=["read"])
    response = api_client(world.host(world.acme), key).get("/api/v1/kpis/?days=0")
    assert response.status_code == 400
    assert "days" in response.json()["error"]["details"]


def test_a_partner_key_reads_the_roll_up_of_its_own_tenants_only(world, make_key, api_client):  # noqa: F811
    with tenant_context(world.acme):
        _failing_order("A1")
    with tenant_context(world.cedar):
        _failing_order("C1")
    body = api_client("northwind.localhost", make_key(scopes=["read"])).get("/api/v1/partner-kpis/").json()
    assert [row["tenant"] for row in body["tenants"]] == ["acme", "bluebird"]
    assert (body["totals"]["orders"], body["totals"]["exceptions"]["count"]) == (1, 1)
    other = make_key(partner=world.southpaw, scopes=["read"])
    body = api_client("southpaw.localhost", other).get("/api/v1/partner-kpis/").json()
    assert [row["tenant"] for row in body["tenants"]] == ["cedar"]


def test_each_endpoint_answers_in_its_own_area_only(world, make_key, api_client):  # noqa: F811
    tenant_key = make_key(tenant=world.acme, scopes=["read"])
    partner_key = make_key(scopes=["read"])
    assert api_client(world.host(world.acme), tenant_key).get("/api/v1/partner-kpis/").status_code in (403, 404)
    assert api_client("northwind.localhost", partner_key).get("/api/v1/kpis/").status_code in (403, 404)
    # On the partner console a tenant's own KPIs are read through the tenant prefix.
    response = api_client("northwind.localhost", partner_key).get("/api/v1/tenants/acme/kpis/")
    assert (response.status_code, response.json()["orders"]) == (200, 0)
    assert api_client("northwind.localhost", partner_key).get("/api/v1/tenants/cedar/kpis/").status_code == 404
