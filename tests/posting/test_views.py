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


def _reconciled_payout(world, tenant=None):
    from commerce.services import payout_upsert, refund_upsert
    from posting.reconciliation import payout_reconcile
    from posting.services import journal_post_payout, journal_post_refund
    from tests.commerce.factories import refund, stripe_payout_all_types

    with tenant_context(tenant or world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        journal_post_order(order=order)
        document = refund("R1", (("L1", 1),))
        refund_obj = refund_upsert(source="shopify", connection_id=1, document=document).obj
        journal_post_refund(refund=refund_obj)
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        journal_post_payout(payout=payout)
        payout_reconcile(payout=payout)
        return payout, order, refund_obj


def test_payout_page_shows_each_line_match_links_and_the_difference(world, host_client):
    from triage.models import Exception as TriageException

    payout, order, refund_obj = _reconciled_payout(world)
    with tenant_context(world.acme):
        suspense = TriageException.objects.get(cause="payout_suspense")
        entry = JournalEntry.objects.get(source_key__startswith=f"payout:{payout.pk}:v")
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get(f"/ledger/payouts/{payout.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/ledger/documents/order/{order.pk}/"' in html
    assert f'href="/ledger/documents/refund/{refund_obj.pk}/"' in html
    assert f'href="/ledger/journals/{entry.pk}/"' in html
    assert f'href="/exceptions/{suspense.pk}/"' in html
    assert html.count('class="badge status-matched"') == 6
    assert html.count('class="badge status-suspense"') == 1
    assert "3.25 USD in payout suspense until reclassified" in html
    assert client.get("/ledger/payouts/999999/").status_code == 404


def test_payouts_list_filters_by_status_and_paginates(world, host_client):
    from dataclasses import replace

    from commerce.services import payout_upsert
    from tests.commerce.factories import stripe_payout

    payout, _order, _refund = _reconciled_payout(world)
    with tenant_context(world.acme):
        for number in range(55):  # never reconciled: unmatched
            payout_upsert(
                source="stripe", connection_id=2, document=replace(stripe_payout(), external_id=f"po_x{number}")
            )
    client = host_client(world.host(world.acme), world.acme_admin)
    differences = client.get("/ledger/payouts/?status=differences").content.decode()
    assert f'href="/ledger/payouts/{payout.pk}/"' in differences and "po_x1<" not in differences
    unmatched = client.get("/ledger/payouts/?status=unmatched").content.decode()
    assert "po_1<" not in unmatched and "Page 1 of 2" in unmatched and "status=unmatched" in unmatched
    second = client.get("/ledger/payouts/?status=unmatched&page=2").content.decode()
    assert second.count('class="badge status-unmatched"') == 5
    assert "No payouts match" in client.get("/ledger/payouts/?status=matched").content.decode()
    assert client.get("/ledger/payouts/?q=po_x54").content.decode().count("status-unmatched") == 1


def test_other_tenants_payout_is_not_found(world, host_client):
    payout, _order, _refund = _reconciled_payout(world)
    client = host_client(world.host(world.bluebird), world.bluebird_admin)
    assert client.get(f"/ledger/payouts/{payout.pk}/").status_code == 404
    assert "No payouts yet" in client.get("/ledger/payouts/").content.decode()


def test_captured_not_paid_out_report_page_and_csv(world, host_client):
    from dataclasses import replace

    _reconciled_payout(world)
    with tenant_context(world.acme):
        unpaid = order_upsert(
            source="shopify", connection_id=1, document=replace(shopify_order(), external_id="1002")
        ).obj
    client = host_client(world.host(world.acme), world.acme_admin)
    page = client.get("/ledger/unsettled/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/ledger/documents/order/{unpaid.pk}/">1002<' in html
    assert ">1001<" not in html  # settled by payout po_1
    assert "170.30 USD" in html and "gift" not in html.split("<table")[1]
    csv_response = client.get("/ledger/unsettled.csv?days=7")
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = csv_response.content.decode().splitlines()
    assert rows[0] == "order,order_id,gateway,currency,amount,paid_at,days_since_paid"
    assert [row.split(",")[:5] for row in rows[1:]] == [["1002", str(unpaid.pk), "stripe", "USD", "170.30"]]
    assert client.get("/ledger/unsettled.csv?days=3000").content.decode().splitlines()[1:] == []
    assert client.get("/ledger/unsettled/?days=abc").status_code == 400
    assert client.get("/ledger/unsettled/?days=-1").status_code == 400


def _payout_pk(tenant, external_id: str) -> int:
    from commerce.models import Payout

    with tenant_context(tenant):
        return Payout.objects.get(external_id=external_id).pk


def test_partner_payouts_list_shows_only_its_own_tenants(world, host_client):
    from dataclasses import replace

    from commerce.services import payout_upsert
    from tests.commerce.factories import stripe_payout

    _reconciled_payout(world)
    for tenant, external_id in ((world.bluebird, "po_bluebird"), (world.cedar, "po_cedar")):
        with tenant_context(tenant):
            payout_upsert(source="stripe", connection_id=2, document=replace(stripe_payout(), external_id=external_id))
    northwind = host_client("northwind.localhost", world.partner_admin)
    html = northwind.get("/payouts/").content.decode()
    assert 'data-tenant="acme"' in html and ">po_1<" in html and ">po_bluebird<" in html
    acme_payout = _payout_pk(world.acme, "po_1")
    assert f"://{world.host(world.acme)}/ledger/payouts/{acme_payout}/" in html
    assert "po_cedar" not in html and 'data-tenant="cedar"' not in html
    assert "(2 payouts)" in html
    filtered = northwind.get("/payouts/?status=differences").content.decode()
    assert ">po_1<" in filtered and "po_bluebird" not in filtered
    southpaw = host_client("southpaw.localhost", world.other_partner_admin).get("/payouts/").content.decode()
    assert ">po_cedar<" in southpaw and "po_1<" not in southpaw and "po_bluebird" not in southpaw
    # Not a tenant page: the tenant's own host has no such partner view.
    assert host_client(world.host(world.acme), world.acme_admin).get("/payouts/").status_code == 404


def test_partner_payouts_pages_merge_tenants_newest_first(world):
    import datetime as dt
    from dataclasses import replace

    from commerce.services import payout_upsert
    from posting.selectors import partner_payouts
    from tenants.selectors import partner_tenants
    from tests.commerce.factories import stripe_payout

    start = dt.date(2026, 1, 1)
    for tenant, offset in ((world.acme, 0), (world.bluebird, 1)):
        with tenant_context(tenant):
            for number in range(3):  # acme on even days, bluebird on odd days
                arrival = start + dt.timedelta(days=2 * number + offset)
                document = replace(stripe_payout(), external_id=f"{tenant.slug}-{number}", arrival_date=arrival)
                payout_upsert(source="stripe", connection_id=2, document=document)
    tenants = partner_tenants(partner=world.northwind)
    pages = [partner_payouts(tenants=tenants, page=number, per_page=2) for number in (1, 2, 3, 9)]
    assert [[row.external_id for row in page.rows] for page in pages] == [
        ["bluebird-2", "acme-2"],
        ["bluebird-1", "acme-1"],
        ["bluebird-0", "acme-0"],
        ["bluebird-0", "acme-0"],  # past the end: the last page
    ]
    assert (pages[0].count, pages[0].num_pages, pages[0].has_next, pages[2].has_next) == (6, 3, True, False)
    assert partner_payouts(tenants=partner_tenants(partner=world.southpaw)).rows == []


def test_payout_check_again_after_the_order_is_posted_and_viewers_cannot(world, host_client):
    from commerce.services import payout_upsert, refund_upsert
    from posting.models import Reconciliation
    from posting.reconciliation import payout_reconcile
    from posting.services import journal_post_payout, journal_post_refund
    from tests.commerce.factories import refund, stripe_payout_all_types

    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        journal_post_payout(payout=payout)
        assert payout_reconcile(payout=payout).matched == 4  # fees, adjustment, reserve: order and refund not posted
        journal_post_order(order=order)
        document = refund("R1", (("L1", 1),))
        journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=document).obj)
    viewer = UserFactory(email="viewer-payouts@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    viewer_client = host_client(world.host(world.acme), viewer)
    assert "Check again" not in viewer_client.get(f"/ledger/payouts/{payout.pk}/").content.decode()
    assert viewer_client.post(f"/ledger/payouts/{payout.pk}/recheck/").status_code == 403
    client = host_client(world.host(world.acme), world.acme_admin)
    assert client.get(f"/ledger/payouts/{payout.pk}/recheck/").status_code == 405
    response = client.post(f"/ledger/payouts/{payout.pk}/recheck/")
    assert (response.status_code, response["Location"]) == (302, f"/ledger/payouts/{payout.pk}/")
    with tenant_context(world.acme):
        assert Reconciliation.objects.get(payout=payout).matched == 6
    assert client.post("/ledger/payouts/999999/recheck/").status_code == 404
