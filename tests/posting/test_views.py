"""Ledger pages driven through HTTP on the tenant's own domain."""

from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, PostingPolicy
from posting.services import batch_close, journal_post_order, policy_update
from tenants import services
from tenants.models import Membership
from tests.commerce.factories import shopify_order
from tests.factories import UserFactory

LEDGER_URLS = ["/ledger/journals/", "/ledger/trial-balance/", "/ledger/export.csv", "/ledger/export.beancount"]


def _posted(world) -> JournalEntry:
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        return journal_post_order(order=order).entry


def test_journals_list_and_detail_show_the_entry(world, host_client):
    entry = _posted(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    listing = client.get("/ledger/journals/?q=order")
    assert listing.status_code == 200
    assert entry.source_key in listing.content.decode()
    detail = client.get(f"/ledger/journals/{entry.pk}/").content.decode()
    assert "4010 Sales - apparel" in detail and "US-NY-NYC" in detail and "order 1001" in detail
    assert client.get("/ledger/journals/999999/").status_code == 404


def test_trial_balance_page_and_exports(world, host_client):
    _posted(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/ledger/trial-balance/?as_of=2026-03-14").content.decode()
    assert "2100" in page and "225.30" in page
    with tenant_context(world.acme):
        tax = Account.objects.get(code="2100")
    assert f'<a href="/ledger/accounts/{tax.pk}/">2100</a>' in page  # each row opens the account's ledger
    empty = client.get("/ledger/trial-balance/?as_of=2026-03-13").content.decode()
    assert "Nothing posted by 2026-03-13" in empty
    csv_response = client.get("/ledger/export.csv")
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response.content.decode().count("\n") == 11
    assert client.get("/ledger/export.xlsx").status_code == 404


def test_another_tenants_member_gets_404_on_every_ledger_page(world, host_client):
    entry = _posted(world)
    client = host_client(world.host(world.acme), world.cedar_admin)
    for url in [*LEDGER_URLS, f"/ledger/journals/{entry.pk}/", "/chart-of-accounts/"]:
        assert client.get(url).status_code == 404, url


def test_policy_page_shows_defaults_and_saves(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/ledger/policy/").content.decode()
    assert '<option value="paid" selected>' in page and "America/New_York" in page
    assert '<option value="prorate" selected>' in page
    response = client.post(
        "/ledger/policy/",
        {
            "recognise_on": "fulfilled",
            "discounts": "net",
            "allocation": "order",
            "mode": "batched",
            "batch_window": "hourly",
            "cutoff_hour": "6",
            "unallocated_refunds": "refunds_account",
        },
    )
    assert (response.status_code, response["Location"]) == (302, "/ledger/policy/")
    with tenant_context(world.acme):
        policy = PostingPolicy.objects.get()
        assert (policy.recognise_on, policy.discounts, policy.allocation, policy.mode) == (
            "fulfilled",
            "net",
            "order",
            "batched",
        )
        assert (policy.batch_window, policy.cutoff_hour, policy.unallocated_refunds) == (
            "hourly",
            6,
            "refunds_account",
        )


def test_policy_page_refuses_a_bad_cutoff_and_viewers(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    bad = {"recognise_on": "paid", "discounts": "gross", "allocation": "lines", "mode": "per_document"}
    response = client.post("/ledger/policy/", {**bad, "batch_window": "daily", "cutoff_hour": "24"})
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 23." in response.content.decode()
    viewer = UserFactory(email="viewer3@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    viewer_client = host_client(world.host(world.acme), viewer)
    assert viewer_client.get("/ledger/policy/").status_code == 200
    assert (
        viewer_client.post("/ledger/policy/", {**bad, "batch_window": "daily", "cutoff_hour": "1"}).status_code == 403
    )


def test_batches_list_and_detail_drill_down_to_the_order(world, host_client):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched")
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        entry = journal_post_order(order=order).entry
        batch = entry.batch
    client = host_client(world.host(world.acme), world.acme_admin)
    listing = client.get("/ledger/batches/").content.decode()
    assert f"/ledger/batches/{batch.pk}/" in listing and "Open" in listing
    detail = client.get(f"/ledger/batches/{batch.pk}/").content.decode()
    assert "2100 Sales tax payable" in detail and "jurisdiction: US-NY-NYC" in detail
    assert f'<a href="/ledger/documents/order/{order.pk}/">order 1001</a>' in detail
    with tenant_context(world.acme):
        summary = batch_close(batch=batch)
    closed = client.get(f"/ledger/batches/{batch.pk}/").content.decode()
    assert f"/ledger/journals/{summary.pk}/" in closed and "Closed" in closed


def test_journal_detail_drills_down_to_the_order_and_its_entries(world, host_client):
    entry = _posted(world)
    client = host_client(world.host(world.acme), world.acme_admin)
    with tenant_context(world.acme):
        order_id = entry.lines.first().sources[0]["id"]
        clearing = Account.objects.get(code="1110")
    detail = client.get(f"/ledger/journals/{entry.pk}/").content.decode()
    assert f'href="/ledger/documents/order/{order_id}/"' in detail
    order_page = client.get(f"/ledger/documents/order/{order_id}/").content.decode()
    assert "TEE-BLK" in order_page and entry.source_key in order_page and "shopify_gift_card" in order_page
    assert client.get("/ledger/documents/invoice/1/").status_code == 404
    assert client.get("/ledger/documents/order/999999/").status_code == 404
    ledger = client.get(f"/ledger/accounts/{clearing.pk}/").content.decode()
    assert "170.30" in ledger and entry.source_key in ledger
    assert (
        "No postings to this account in this period"
        in client.get(f"/ledger/accounts/{clearing.pk}/?from=2027-01-01").content.decode()
    )
    assert client.get("/ledger/accounts/999999/").status_code == 404


def test_another_tenants_member_gets_404_on_policy_batches_ledger_and_documents(world, host_client):
    entry = _posted(world)
    with tenant_context(world.acme):
        line = entry.lines.first()
    client = host_client(world.host(world.acme), world.cedar_admin)
    for url in [
        "/ledger/policy/",
        "/ledger/batches/",
        f"/ledger/accounts/{line.account_id}/",
        f"/ledger/documents/order/{line.sources[0]['id']}/",
    ]:
        assert client.get(url).status_code == 404, url
