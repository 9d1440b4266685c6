from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.models import Account, AccountRule, MappingSet, ValueMap
from mappings.services import mapping_set_copy, standard_chart_apply
from posting.models import JournalEntry
from tenants import services
from tenants.models import Membership
from tests.commerce.factories import shopify_order
from tests.factories import UserFactory


def _upload(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("coa.csv", content, content_type="text/csv")


def test_import_form_imports_and_lists_accounts(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post("/chart-of-accounts/", {"file": _upload(b"code,name,type\n1010,Bank,asset\n")})
    assert (response.status_code, response["Location"]) == (302, "/chart-of-accounts/")
    page = client.get("/chart-of-accounts/").content.decode()
    assert "1010" in page and "1 account(s) created, 0 updated." in page


def test_import_form_shows_every_bad_row_and_imports_nothing(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post("/chart-of-accounts/", {"file": _upload(b"code,name,type\n1,A,asset\n2,,asset\n3,C,cost\n")})
    assert response.status_code == 400
    body = response.content.decode()
    assert "line 3: name is empty" in body
    assert "line 4: type &#x27;cost&#x27; is not one of" in body
    with tenant_context(world.acme):
        assert Account.objects.count() == 0


def test_viewer_sees_the_chart_but_cannot_import(world, host_client):
    viewer = UserFactory(email="viewer@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert "Import from CSV" not in client.get("/chart-of-accounts/").content.decode()
    assert client.post("/chart-of-accounts/", {"file": _upload(b"code,name,type\n1,A,asset\n")}).status_code == 403


def test_account_add_and_edit_through_the_pages(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        "/chart-of-accounts/",
        {"action": "create", "new-code": "1010", "new-name": "Bank", "new-type": "asset", "new-active": "on"},
    )
    assert (response.status_code, response["Location"]) == (302, "/chart-of-accounts/")
    with tenant_context(world.acme):
        account = Account.objects.get(code="1010")
    edited = client.post(
        f"/chart-of-accounts/accounts/{account.pk}/",
        {"code": "1011", "name": "Main bank", "type": "asset", "currency": "USD", "external_id": "ERP-7"},
    )
    assert edited.status_code == 302
    with tenant_context(world.acme):
        account.refresh_from_db()
        assert (account.code, account.name, account.currency, account.external_id, account.active) == (
            "1011",
            "Main bank",
            "USD",
            "ERP-7",
            False,
        )


def test_account_edit_refuses_a_duplicate_code_and_a_bad_currency(world, host_client):
    with tenant_context(world.acme):
        Account.objects.create(code="1000", name="Cash", type="asset")
        bank = Account.objects.create(code="1010", name="Bank", type="asset")
    client = host_client(world.host(world.acme), world.acme_admin)
    response = client.post(
        f"/chart-of-accounts/accounts/{bank.pk}/", {"code": "1000", "name": "Bank", "type": "asset", "currency": "us"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Account 1000 already exists." in body and "A currency is a three-letter ISO 4217 code" in body
    with tenant_context(world.acme):
        assert Account.objects.get(pk=bank.pk).code == "1010"


def test_viewer_cannot_edit_an_account(world, host_client):
    with tenant_context(world.acme):
        bank = Account.objects.create(code="1010", name="Bank", type="asset")
    viewer = UserFactory(email="viewer2@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    assert client.get(f"/chart-of-accounts/accounts/{bank.pk}/").status_code == 200
    response = client.post(f"/chart-of-accounts/accounts/{bank.pk}/", {"code": "9", "name": "X", "type": "asset"})
    assert response.status_code == 403


def _draft_with_order(world):
    with tenant_context(world.acme):
        active = standard_chart_apply()
        draft = mapping_set_copy(mapping_set=active, name="Next year")
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        return active, draft, order


def test_mapping_editor_adds_and_removes_rules_and_value_maps(world, host_client):
    _active, draft, _order = _draft_with_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        web_sales = Account.objects.create(code="4030", name="Sales - web", type="revenue")
    url = f"/chart-of-accounts/mapping-sets/{draft.pk}/"
    added = client.post(url, {"action": "add_rule", "role": "revenue", "account": web_sales.pk, "channel": "web"})
    assert added.status_code == 302
    duplicate = client.post(url, {"action": "add_rule", "role": "revenue", "account": web_sales.pk, "channel": "web"})
    assert duplicate.status_code == 400
    assert "A rule for this role and these conditions already exists." in duplicate.content.decode()
    assert (
        client.post(url, {"action": "set_value", "kind": "tax_code", "source_value": "US-NY", "erp_value": "NY"})[
            "Location"
        ]
        == url
    )
    with tenant_context(world.acme):
        rule = AccountRule.objects.get(mapping_set=draft, channel="web")
        value = ValueMap.objects.get(mapping_set=draft)
        assert (rule.role, rule.account_id, value.erp_value) == ("revenue", web_sales.pk, "NY")
    assert client.post(url, {"action": "remove_rule", "rule": rule.pk}).status_code == 302
    assert client.post(url, {"action": "remove_value", "value": value.pk}).status_code == 302
    with tenant_context(world.acme):
        assert not AccountRule.objects.filter(pk=rule.pk).exists()
        assert not ValueMap.objects.filter(pk=value.pk).exists()


def test_mapping_editor_changes_a_rules_account_in_place(world, host_client):
    active, draft, _order = _draft_with_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        rule = draft.rules.get(role="shipping_income")
        other = Account.objects.get(code="4000")
        retired = Account.objects.create(code="4099", name="Old sales", type="revenue", active=False)
        live_rule = active.rules.get(role="shipping_income")
    url = f"/chart-of-accounts/mapping-sets/{draft.pk}/"
    page = client.get(url).content.decode()
    assert f'id="rule-account-{rule.pk}"' in page and "4099 Old sales (inactive)</option>" in page
    changed = client.post(url, {"action": "set_rule_account", "rule": rule.pk, "account": other.pk})
    assert changed.status_code == 302
    refused = client.post(url, {"action": "set_rule_account", "rule": rule.pk, "account": retired.pk})
    assert refused.status_code == 400 and "Account 4099 is inactive." in refused.content.decode()
    live = client.post(
        f"/chart-of-accounts/mapping-sets/{active.pk}/",
        {"action": "set_rule_account", "rule": live_rule.pk, "account": other.pk},
    )
    assert live.status_code == 400
    with tenant_context(world.acme):
        assert AccountRule.objects.get(pk=rule.pk).account_id == other.pk
        assert AccountRule.objects.get(pk=live_rule.pk).account.code == "4100"  # the live set is untouched


def test_live_mapping_set_cannot_be_edited_from_the_page(world, host_client):
    active, _draft, _order = _draft_with_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        rule = active.rules.first()
    response = client.post(f"/chart-of-accounts/mapping-sets/{active.pk}/", {"action": "remove_rule", "rule": rule.pk})
    assert response.status_code == 400
    with tenant_context(world.acme):
        assert AccountRule.objects.filter(pk=rule.pk).exists()


def test_preview_shows_the_draft_journal_without_writing(world, host_client):
    _active, draft, order = _draft_with_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        web_sales = Account.objects.create(code="4030", name="Sales - web", type="revenue")
        AccountRule.objects.filter(mapping_set=draft, role="revenue").delete()
        AccountRule.objects.create(mapping_set=draft, role="revenue", account=web_sales, channel="web")
    response = client.get(f"/chart-of-accounts/mapping-sets/{draft.pk}/preview/?order={order.pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("4030 Sales - web") == 2  # apparel and footwear revenue, both on the web rule
    assert "<th>225.30</th><th>225.30</th>" in body.replace("\n", "")
    with tenant_context(world.acme):
        assert JournalEntry.objects.count() == 0


def test_preview_names_unmapped_roles_of_the_draft(world, host_client):
    _active, draft, order = _draft_with_order(world)
    with tenant_context(world.acme):
        AccountRule.objects.filter(mapping_set=draft, role="shipping_income").delete()
    client = host_client(world.host(world.acme), world.acme_admin)
    body = client.get(f"/chart-of-accounts/mapping-sets/{draft.pk}/?order={order.pk}").content.decode()
    assert "No account is mapped for role &#x27;shipping_income&#x27; (channel=web)." in body
    assert "<strong>Unmapped</strong>" in body


def test_create_draft_copy_and_activate_with_effective_from(world, host_client):
    active, _draft, _order = _draft_with_order(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    created = client.post("/chart-of-accounts/mapping-sets/", {"name": "FY27", "copy_from": active.pk})
    assert created.status_code == 302
    with tenant_context(world.acme):
        fy27 = MappingSet.objects.get(name="FY27")
        assert fy27.rules.count() == active.rules.count()
    activated = client.post(
        f"/chart-of-accounts/mapping-sets/{fy27.pk}/", {"action": "activate", "effective_from": "2027-01-01T00:00"}
    )
    assert activated.status_code == 302
    with tenant_context(world.acme):
        fy27.refresh_from_db()
        active.refresh_from_db()
        assert (fy27.status, active.status) == ("active", "archived")
        assert fy27.effective_from.isoformat() == "2027-01-01T00:00:00+00:00"
    listing = client.get("/chart-of-accounts/mapping-sets/").content.decode()
    assert "FY27" in listing and "Archived" in listing


def test_another_tenants_member_gets_404_on_mapping_pages(world, host_client):
    _active, draft, order = _draft_with_order(world)
    with tenant_context(world.acme):
        account = Account.objects.first()
    client = host_client(world.host(world.acme), world.cedar_admin)
    for url in [
        f"/chart-of-accounts/accounts/{account.pk}/",
        "/chart-of-accounts/mapping-sets/",
        f"/chart-of-accounts/mapping-sets/{draft.pk}/",
        f"/chart-of-accounts/mapping-sets/{draft.pk}/preview/?order={order.pk}",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/chart-of-accounts/mapping-sets/{draft.pk}/", {"action": "activate"}).status_code == 404
