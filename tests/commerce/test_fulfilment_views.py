import pytest
from django_tenants.utils import tenant_context

from commerce.kpi_selectors import fulfilment_policy_get
from commerce.models import Fulfilment, RoutingRule
from portal.demo.fulfilment import fulfilment_demo_seed
from tenants.models import AuditEvent, Membership
from tenants.services import membership_grant
from tests.commerce.fulfilment_helpers import location, rule
from tests.conftest import _user


@pytest.fixture
def demo(world):
    with tenant_context(world.acme):
        fulfilment_demo_seed()


def test_board_shows_each_column_the_kpis_and_the_chart(world, host_client, demo):
    response = host_client(world.host(world.acme), world.acme_admin).get("/fulfilment/")
    assert response.status_code == 200
    page = response.content.decode()
    for state in ("waiting", "sent", "shipped", "acknowledged"):
        assert f'data-testid="column-{state}"' in page
    assert 'id="fulfilment-data"' in page and 'data-testid="cycle-median"' in page
    assert 'data-testid="allocation-rate"' in page
    assert "Order F-1004" in page
    assert 'href="/fulfilment/"' in page  # the sidebar link
    assert "<script>" not in page and "onclick" not in page


def test_admin_adds_edits_and_deletes_a_rule(world, host_client):
    with tenant_context(world.acme):
        place = location("east", {})
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/fulfilment/rules/",
        {
            "name": "US",
            "priority": "5",
            "location": place.pk,
            "countries": "us, ca",
            "regions": "",
            "skus": "",
            "active": "on",
        },
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        created = RoutingRule.objects.get()
        assert (created.countries, created.priority, created.active) == (["CA", "US"], 5, True)
    assert (
        client.post(
            f"/fulfilment/rules/{created.pk}/",
            {"name": "US only", "priority": "7", "location": place.pk, "countries": "US", "skus": "TEE"},
        ).status_code
        == 302
    )
    with tenant_context(world.acme):
        created.refresh_from_db()
        assert (created.name, created.skus, created.active) == ("US only", ["TEE"], False)
    bad = client.post("/fulfilment/rules/", {"name": "x", "priority": "1", "location": place.pk, "countries": "USA"})
    assert bad.status_code == 400 and "Two-letter ISO country codes" in bad.content.decode()
    assert client.post(f"/fulfilment/rules/{created.pk}/delete/").status_code == 302
    with tenant_context(world.acme):
        assert RoutingRule.objects.count() == 0
    actions = set(AuditEvent.objects.filter(tenant=world.acme).values_list("action", flat=True))
    assert {"routing_rule.create", "routing_rule.update", "routing_rule.delete"} <= actions


def test_a_viewer_reads_rules_but_cannot_change_them(world, host_client):
    with tenant_context(world.acme):
        created = rule(location("east", {}))
    viewer = _user("viewer-fulfilment@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    page = client.get("/fulfilment/rules/").content.decode()
    assert "Ship from east" in page and 'data-testid="rule-form"' not in page
    assert client.post(f"/fulfilment/rules/{created.pk}/delete/").status_code == 403
    assert client.post("/fulfilment/rules/", {"name": "x"}).status_code == 403
    with tenant_context(world.acme):
        assert RoutingRule.objects.count() == 1


def test_an_admin_sets_the_promised_ship_time_and_a_viewer_cannot(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    assert "within 48 hours of payment" in client.get("/fulfilment/rules/").content.decode()
    assert client.post("/fulfilment/ship-time/", {"ship_sla_hours": "24"}).status_code == 302
    assert client.post("/fulfilment/ship-time/", {"ship_sla_hours": "0"}).status_code == 302  # refused, kept 24
    viewer = _user("viewer-shiptime@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    assert (
        host_client(world.host(world.acme), viewer).post("/fulfilment/ship-time/", {"ship_sla_hours": "5"}).status_code
        == 403
    )
    with tenant_context(world.acme):
        assert fulfilment_policy_get().ship_sla_hours == 24
    change = AuditEvent.objects.get(action="fulfilment_policy.update")
    assert (change.actor_id, change.changes) == (world.acme_admin.pk, {"ship_sla_hours": [48, 24]})


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    return api_client(world.host(world.acme), make_key(scopes=["read"], tenant=world.acme))


def test_api_lists_fulfilments_with_cursor_pages_and_details(world, acme_api, demo):
    body = acme_api.get("/api/v1/fulfilments/?page_size=2").json()
    assert len(body["results"]) == 2 and body["next"]
    assert len(acme_api.get(body["next"]).json()["results"]) == 1
    with tenant_context(world.acme):
        fulfilment = Fulfilment.objects.filter(channel_status="acknowledged").order_by("pk").first()
    detail = acme_api.get(f"/api/v1/fulfilments/{fulfilment.pk}/").json()
    assert (detail["origin"], detail["carrier"], detail["channel_status"]) == ("warehouse", "UPS", "acknowledged")
    assert detail["lines"][0]["quantity"] >= 1
    filtered = acme_api.get("/api/v1/fulfilments/?channel_status=not_pushed").json()["results"]
    assert [row["order_external_id"] for row in filtered] == ["F-1003"]
    assert acme_api.get("/api/v1/fulfilments/999999/").status_code == 404
    assert "/api/v1/fulfilments/" in acme_api.get("/api/v1/schema/?format=json").json()["paths"]
