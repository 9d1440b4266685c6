"""Chart of accounts and mapping set API on the tenant's domain, with tenant and partner keys."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.models import Account, AccountRule, MappingSet
from mappings.services import mapping_set_copy, standard_chart_apply
from posting.models import JournalEntry
from tests.commerce.factories import shopify_order


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    def make(scopes=("read", "write")):
        return api_client(world.host(world.acme), make_key(tenant=world.acme, scopes=list(scopes)))

    return make


def test_accounts_create_list_update(world, acme_api):
    api = acme_api()
    created = api.post("/api/v1/accounts/", {"code": "1000", "name": "Cash", "type": "asset"})
    assert created.status_code == 201
    child = api.post("/api/v1/accounts/", {"code": "1010", "name": "Bank", "type": "asset", "parent": "1000"})
    assert child.json() == {
        "id": child.json()["id"],
        "code": "1010",
        "name": "Bank",
        "type": "asset",
        "parent": "1000",
        "currency": "",
        "active": True,
        "external_id": "",
    }
    listing = api.get("/api/v1/accounts/").json()
    assert [row["code"] for row in listing["results"]] == ["1000", "1010"]
    patched = api.patch(f"/api/v1/accounts/{child.json()['id']}/", {"name": "Main bank", "active": False})
    assert (patched.status_code, patched.json()["name"], patched.json()["active"]) == (200, "Main bank", False)


def test_account_create_refuses_duplicate_code_unknown_type_and_parent(world, acme_api):
    api = acme_api()
    api.post("/api/v1/accounts/", {"code": "1000", "name": "Cash", "type": "asset"})
    duplicate = api.post("/api/v1/accounts/", {"code": "1000", "name": "Again", "type": "asset"})
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["details"] == {"code": ["Account 1000 already exists."]}
    bad = api.post("/api/v1/accounts/", {"code": "2", "name": "X", "type": "cost", "parent": "999"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"type": ['"cost" is not a valid choice.']}
    orphan = api.post("/api/v1/accounts/", {"code": "2", "name": "X", "type": "asset", "parent": "999"})
    assert orphan.json()["error"]["details"] == {"parent": ["No account with code '999'."]}


def test_csv_import_reports_every_bad_row_and_imports_nothing(world, acme_api):
    api = acme_api()
    response = api.post("/api/v1/accounts/import/", {"csv": "code,name,type\n1,Cash,asset\n1,Dup,asset\n3,Odd,cost\n"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_rows"
    assert response.json()["error"]["details"] == {
        "rows": [
            {"line": 3, "message": "code 1 repeats line 2"},
            {"line": 4, "message": "type 'cost' is not one of asset, liability, equity, revenue, expense"},
        ]
    }
    with tenant_context(world.acme):
        assert Account.objects.count() == 0
    good = api.post("/api/v1/accounts/import/", {"csv": "code,name,type\n1,Cash,asset\n"})
    assert (good.status_code, good.json()) == (200, {"created": 1, "updated": 0})


def test_read_key_cannot_write(world, acme_api):
    response = acme_api(scopes=["read"]).post("/api/v1/accounts/", {"code": "1", "name": "A", "type": "asset"})
    assert response.status_code == 403


def test_mapping_set_rules_activate_and_preview(world, acme_api):
    with tenant_context(world.acme):
        active = standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        Account.objects.create(code="4030", name="Sales - web", type="revenue")
    api = acme_api()
    draft = api.post("/api/v1/mapping-sets/", {"name": "FY27", "copy_from": active.pk})
    assert (draft.status_code, draft.json()["status"], draft.json()["rule_count"]) == (201, "draft", 23)
    draft_id = draft.json()["id"]
    rule = api.post(
        f"/api/v1/mapping-sets/{draft_id}/rules/",
        {"role": "revenue", "account": "4030", "channel": "web", "product_category": "apparel"},
    )
    assert rule.status_code == 201
    assert rule.json()["conditions"] == {"product_category": "apparel", "channel": "web"}
    preview = api.get(f"/api/v1/mapping-sets/{draft_id}/preview/?order={order.pk}").json()
    revenue = [line for line in preview["lines"] if line["role"] == "revenue"]
    assert [(line["account"], line["credit"]) for line in revenue] == [("4030", "120.00"), ("4020", "80.00")]
    assert (preview["postable"], preview["problems"]) == (True, [])
    with tenant_context(world.acme):
        assert JournalEntry.objects.count() == 0
    assert api.delete(f"/api/v1/mapping-sets/{draft_id}/rules/{rule.json()['id']}/").status_code == 204
    value = api.post(
        f"/api/v1/mapping-sets/{draft_id}/value-maps/", {"kind": "tax_code", "source_value": "US-NY", "erp_value": "T1"}
    )
    assert (value.status_code, value.json()["erp_value"]) == (200, "T1")
    activated = api.post(f"/api/v1/mapping-sets/{draft_id}/activate/", {"effective_from": "2027-01-01T00:00:00Z"})
    assert (activated.status_code, activated.json()["status"]) == (200, "active")
    assert activated.json()["value_maps"][0]["source_value"] == "US-NY"
    assert api.get(f"/api/v1/mapping-sets/{active.pk}/").json()["status"] == "archived"
    again = api.post(f"/api/v1/mapping-sets/{draft_id}/activate/", {})
    assert again.status_code == 400
    assert again.json()["error"]["details"] == {"status": ["Only a draft can be activated; this set is active."]}
    locked = api.post(f"/api/v1/mapping-sets/{draft_id}/rules/", {"role": "revenue", "account": "4030"})
    assert locked.status_code == 400


def test_preview_names_unmapped_roles(world, acme_api):
    with tenant_context(world.acme):
        draft = mapping_set_copy(mapping_set=standard_chart_apply(), name="Gap")
        AccountRule.objects.filter(mapping_set=draft, role="tax_payable").delete()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
    preview = acme_api().get(f"/api/v1/mapping-sets/{draft.pk}/preview/?order={order.pk}").json()
    assert preview["postable"] is False
    assert preview["problems"] == [
        "No account is mapped for role 'tax_payable' (channel=web, jurisdiction=US-NY).",
        "No account is mapped for role 'tax_payable' (channel=web, jurisdiction=US-NY-NYC).",
    ]
    assert acme_api().get(f"/api/v1/mapping-sets/{draft.pk}/preview/?order=999999").status_code == 404
    assert acme_api().get(f"/api/v1/mapping-sets/{draft.pk}/preview/").status_code == 400


def test_idempotency_key_replays_an_account_create(world, acme_api, api_client, make_key):
    client = api_client(
        world.host(world.acme), make_key(tenant=world.acme, scopes=["write"]), **{"Idempotency-Key": "k1"}
    )
    first = client.post("/api/v1/accounts/", {"code": "1", "name": "A", "type": "asset"})
    second = client.post("/api/v1/accounts/", {"code": "1", "name": "A", "type": "asset"})
    assert (first.status_code, second.status_code, second["Idempotent-Replayed"]) == (201, 201, "true")
    assert first.json() == second.json()
    with tenant_context(world.acme):
        assert MappingSet.objects.count() == 0 and Account.objects.count() == 1


def test_another_tenants_key_and_member_get_404(world, make_key, api_client, host_client, throttle_reset):
    with tenant_context(world.acme):
        active = standard_chart_apply()
        account = Account.objects.first()
    cedar_key = make_key(tenant=world.cedar, scopes=["read", "write"])
    southpaw_key = make_key(partner=world.southpaw, scopes=["read", "write"])
    for key in (cedar_key, southpaw_key):
        api = api_client(world.host(world.acme), key)
        for url in ["/api/v1/accounts/", f"/api/v1/accounts/{account.pk}/", f"/api/v1/mapping-sets/{active.pk}/"]:
            assert api.get(url).status_code == 404, url
        assert api.post("/api/v1/accounts/", {"code": "9", "name": "X", "type": "asset"}).status_code == 404
    session = host_client(world.host(world.acme), world.cedar_admin)
    assert session.get("/api/v1/accounts/").status_code == 404
    assert session.get("/api/v1/mapping-sets/").status_code == 404
