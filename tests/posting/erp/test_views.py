"""ERP screens over HTTP on the tenant's domain: set-up, OAuth connect (state + PKCE), chart import
with its diff, push status with re-push, viewers read-only, other tenants' members 404."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import respx
from django_tenants.utils import tenant_context

from mappings.models import Account
from posting.erp.models import ChartImport, ErpPush
from posting.erp.services import erp_push_entry
from posting.models import JournalEntry
from tests.posting.erp.conftest import exchanges
from tests.posting.erp.factories import erp_connection
from tests.posting.test_views import _posted

X = exchanges("xero")
API = "https://api.xero.com/api.xro/2.0"


def _xero(world):
    with tenant_context(world.acme):
        return erp_connection(vendor="xero", config={"client_id": "xero-client", "tenant_id": ""}, credentials={})


def test_home_lists_target_connections_and_what_each_erp_supports(world, host_client):
    connection = _xero(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/erp/").content.decode()
    assert 'data-testid="erp-target">Built-in ledger<' in page
    assert str(connection) in page
    assert "Token-based authentication (consumer key/secret" in page  # NetSuite's capability note


def test_new_odoo_connection_is_saved_with_secrets_apart(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/erp/connections/new/",
        {
            "vendor": "odoo",
            "name": "Acme Odoo",
            "base_url": "https://acme.odoo.example",
            "database": "acme",
            "username": "api@acme.test",
            "api_key": "key-123",
        },
    )
    assert response.status_code == 302
    with tenant_context(world.acme):
        from posting.erp import connections

        [connection] = [c for c in connections.erp_connections_list() if c.vendor == "odoo"]
        assert connection.config == {
            "base_url": "https://acme.odoo.example",
            "database": "acme",
            "username": "api@acme.test",
        }
        assert connection.credentials == {"api_key": "key-123"}
    assert response["Location"] == f"/erp/connections/{connection.pk}/accounts/"


def test_oauth_connect_round_trip_with_state_and_pkce(world, host_client):
    connection = _xero(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    start = client.post(f"/erp/connections/{connection.pk}/connect/")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start["Location"]).query)
    assert start["Location"].startswith("https://login.xero.com/identity/connect/authorize?")
    assert query["redirect_uri"] == [f"http://{world.host(world.acme)}/erp/oauth/callback/"]
    assert query["code_challenge_method"] == ["S256"]
    state = query["state"][0]
    with respx.mock:
        token = respx.post("https://identity.xero.com/connect/token").respond(200, json=X["refreshed"])
        respx.get("https://api.xero.com/connections").respond(200, json=X["connections"])
        done = client.get(f"/erp/oauth/callback/?code=auth-code&state={state}")
    assert done.status_code == 302
    assert parse_qs(token.calls[0].request.content.decode())["code_verifier"][0]
    with tenant_context(world.acme):
        connection.refresh_from_db()
        assert connection.config["tenant_id"] == "70784a63-d24b-46a9-a4db-0e70a274b056"
        assert connection.credentials["access_token"] == "eyJ-new-access"
        # The grant's lapse dates are known from the start (Xero: 60 days unused).
        assert connection.token_expires_at is not None
        lapses = connection.refresh_token_expires_at - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=59) < lapses <= dt.timedelta(days=60)
    # Connecting is audited as the person, naming the credentials but never their values.
    from tenants.models import AuditEvent

    (event,) = AuditEvent.objects.filter(action="connection.oauth_connect")
    assert (event.actor_label, event.tenant, event.target_id) == (
        world.acme_admin.email,
        world.acme,
        str(connection.pk),
    )
    assert event.changes["credentials"] == "changed: access_token, refresh_token"
    assert event.changes["config"]["tenant_id"][1] == "70784a63-d24b-46a9-a4db-0e70a274b056"
    assert "eyJ-new-access" not in str(AuditEvent.objects.filter(pk=event.pk).values().get())


def test_oauth_callback_with_a_forged_state_is_refused(world, host_client):
    connection = _xero(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    client.post(f"/erp/connections/{connection.pk}/connect/")
    response = client.get("/erp/oauth/callback/?code=auth-code&state=forged")
    assert response.status_code == 400
    assert "did not match a connection started here" in response.content.decode()


def test_chart_import_shows_the_diff_then_applies_it(world, host_client):
    with tenant_context(world.acme):
        Account.objects.create(code="1210", name="Clearing", type="asset")
        connection = erp_connection(
            vendor="xero",
            config={"client_id": "c", "tenant_id": "t-1"},
            credentials={"access_token": "a", "refresh_token": "r"},
        )
    client = host_client(world.host(world.acme), world.acme_admin)
    url = f"/erp/connections/{connection.pk}/accounts/"
    with respx.mock:
        respx.get(f"{API}/Accounts").respond(200, json=X["accounts"])
        respx.get(f"{API}/TaxRates").respond(200, json=X["tax_rates"])
        respx.get(f"{API}/TrackingCategories").respond(200, json=X["tracking"])
        assert client.post(url, {"action": "fetch"}).status_code == 302
    page = client.get(url).content.decode()
    assert "name: Clearing → Shopify Clearing" in page
    assert "Sales - Apparel (revenue)" in page and "Awaiting review" in page
    with tenant_context(world.acme):
        preview = ChartImport.objects.get(connection=connection)
        assert Account.objects.count() == 1  # nothing applied yet
    client.post(url, {"action": "apply", "import": preview.pk})
    with tenant_context(world.acme):
        assert sorted(Account.objects.values_list("code", "active")) == [("1210", True), ("2100", True), ("4010", True)]


def test_push_status_page_shows_erp_id_and_repush_queues(world, host_client, django_capture_on_commit_callbacks):
    entry = _posted(world)
    with tenant_context(world.acme):
        erp_push_entry(entry=entry)
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/erp/pushes/").content.decode()
    assert f"ledger:{entry.pk}" in page and "Acknowledged" in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/erp/pushes/{entry.pk}/repush/")
    assert response.status_code == 302 and len(callbacks) == 1
    assert client.post("/erp/pushes/999999/repush/").status_code == 404


def test_viewer_reads_but_cannot_change(world, host_client):
    from tenants import services
    from tenants.models import Membership
    from tests.factories import UserFactory

    viewer = UserFactory()
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert client.get("/erp/").status_code == 200
    assert client.post("/erp/", {"connection": ""}).status_code == 403
    assert client.get("/erp/connections/new/?vendor=odoo").status_code == 403


def test_another_tenants_member_gets_404_everywhere(world, host_client):
    connection = _xero(world)
    entry = _posted(world)
    client = host_client(world.host(world.acme), world.cedar_admin)
    for url in [
        "/erp/",
        "/erp/pushes/",
        "/erp/connections/new/?vendor=odoo",
        f"/erp/connections/{connection.pk}/accounts/",
        "/erp/oauth/callback/?state=x",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/erp/pushes/{entry.pk}/repush/").status_code == 404
    with tenant_context(world.acme):
        assert not ErpPush.objects.exists() and JournalEntry.objects.count() == 1
