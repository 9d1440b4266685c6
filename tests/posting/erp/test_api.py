"""ERP API on the tenant domain with API keys: target, push status, re-push, chart import."""

from __future__ import annotations

import pytest
import respx
from django_tenants.utils import tenant_context

from mappings.models import Account
from posting.erp.services import erp_push_entry
from tests.posting.erp.conftest import exchanges
from tests.posting.erp.factories import erp_connection
from tests.posting.test_views import _posted

X = exchanges("xero")
API = "https://api.xero.com/api.xro/2.0"

pytestmark = pytest.mark.usefixtures("throttle_reset")


@pytest.fixture
def acme_api(world, make_key, api_client):
    def build(scopes=("read", "write")):
        return api_client(world.host(world.acme), make_key(scopes=scopes, tenant=world.acme))

    return build


def _xero(world, **config):
    with tenant_context(world.acme):
        return erp_connection(
            vendor="xero",
            config={"client_id": "c", "tenant_id": "t-1", **config},
            credentials={"access_token": "a", "refresh_token": "r"},
        )


def test_target_defaults_to_the_builtin_ledger_and_switches(world, acme_api):
    api = acme_api()
    assert api.get("/api/v1/erp/target/").json() == {
        "connection_id": None,
        "vendor": "builtin_ledger",
        "name": "Built-in ledger",
        "since": None,
    }
    connection = _xero(world)
    response = api.client.put(
        "/api/v1/erp/target/", {"connection_id": connection.pk, "since": "2026-03-01"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "connection_id": connection.pk,
        "vendor": "xero",
        "name": str(connection),
        "since": "2026-03-01",
    }
    missing = api.client.put("/api/v1/erp/target/", {"connection_id": 999999}, content_type="application/json")
    assert missing.status_code == 404
    typo = api.client.put("/api/v1/erp/target/", {"connection": 1}, content_type="application/json")
    assert typo.status_code == 400


def test_read_key_cannot_switch_the_target(world, acme_api):
    response = acme_api(scopes=("read",)).client.put(
        "/api/v1/erp/target/", {"connection_id": None}, content_type="application/json"
    )
    assert response.status_code == 403


def test_pushes_list_and_repush(world, acme_api, django_capture_on_commit_callbacks):
    entry = _posted(world)
    with tenant_context(world.acme):
        erp_push_entry(entry=entry)
    api = acme_api()
    rows = api.get("/api/v1/erp/pushes/?status=acked").json()["results"]
    assert [(row["entry_id"], row["vendor"], row["status"], row["external_id"]) for row in rows] == [
        (entry.pk, "builtin_ledger", "acked", f"ledger:{entry.pk}")
    ]
    assert api.get("/api/v1/erp/pushes/?status=bogus").status_code == 400
    with django_capture_on_commit_callbacks() as callbacks:
        queued = api.post(f"/api/v1/erp/pushes/{entry.pk}/repush/")
    assert (queued.status_code, queued.json(), len(callbacks)) == (202, {"entry_id": entry.pk, "queued": True}, 1)
    assert api.post("/api/v1/erp/pushes/999999/repush/").status_code == 404


@respx.mock
def test_chart_import_is_previewed_then_applied(world, acme_api):
    connection = _xero(world)
    respx.get(f"{API}/Accounts").respond(200, json=X["accounts"])
    respx.get(f"{API}/TaxRates").respond(200, json=X["tax_rates"])
    respx.get(f"{API}/TrackingCategories").respond(200, json=X["tracking"])
    api = acme_api()
    created = api.post(f"/api/v1/erp/connections/{connection.pk}/chart-imports/")
    assert created.status_code == 201
    body = created.json()
    assert [row["code"] for row in body["diff"]["create"]] == ["1210", "2100", "4010"]
    assert body["status"] == "preview" and body["tax_codes"][0]["code"] == "OUTPUT"
    applied = api.post(f"/api/v1/erp/chart-imports/{body['id']}/apply/")
    assert (applied.status_code, applied.json()["status"]) == (200, "applied")
    assert api.post(f"/api/v1/erp/chart-imports/{body['id']}/apply/").status_code == 409
    with tenant_context(world.acme):
        assert sorted(Account.objects.values_list("code", flat=True)) == ["1210", "2100", "4010"]


@respx.mock
def test_chart_import_reports_the_erps_refusal(world, acme_api):
    connection = _xero(world)
    respx.get(f"{API}/Accounts").respond(
        502, text="<html><body>Bad gateway</body></html>", headers={"content-type": "text/html"}
    )
    response = acme_api().post(f"/api/v1/erp/connections/{connection.pk}/chart-imports/")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "erp_bad_response"
    assert "instead of JSON: <html><body>Bad gateway</body></html>" in response.json()["error"]["message"]


def test_another_tenants_key_gets_404(world, make_key, api_client):
    api = api_client(world.host(world.acme), make_key(scopes=("read", "write"), tenant=world.cedar))
    for path in ["/api/v1/erp/target/", "/api/v1/erp/pushes/", "/api/v1/erp/chart-imports/1/"]:
        assert api.get(path).status_code == 404, path


@respx.mock
def test_target_switch_and_chart_apply_are_audited_with_the_key(world, acme_api, make_key):
    from tenants.models import ApiKey, AuditEvent

    connection = _xero(world)
    api = acme_api()
    switched = api.client.put(
        "/api/v1/erp/target/", {"connection_id": connection.pk, "since": "2026-03-01"}, content_type="application/json"
    )
    assert switched.status_code == 200
    respx.get(f"{API}/Accounts").respond(200, json=X["accounts"])
    respx.get(f"{API}/TaxRates").respond(200, json=X["tax_rates"])
    respx.get(f"{API}/TrackingCategories").respond(200, json=X["tracking"])
    preview = api.post(f"/api/v1/erp/connections/{connection.pk}/chart-imports/").json()
    applied = api.post(f"/api/v1/erp/chart-imports/{preview['id']}/apply/")
    assert applied.status_code == 200
    label = f"api-key:{ApiKey.objects.filter(tenant=world.acme).latest('id').prefix}"
    (switch,) = AuditEvent.objects.filter(action="erp_target.switch")
    assert (switch.actor_label, switch.tenant, switch.request_id) == (label, world.acme, switched["X-Request-ID"])
    assert switch.changes == {
        "connection": ["Built-in ledger", f"{connection} #{connection.pk}"],
        "since": [None, "2026-03-01"],
    }
    (chart,) = AuditEvent.objects.filter(action="erp_chart.import_apply")
    assert (chart.actor_label, chart.target_id) == (label, str(preview["id"]))
    assert chart.request_id == applied["X-Request-ID"]
    assert chart.changes["created"] == ["1210", "2100", "4010"]
    assert chart.changes["deactivated"] == [] and chart.changes["connection"] == connection.pk
