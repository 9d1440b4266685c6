"""Built-in ledger API on the tenant's domain: journals, batches, trial balance, posting policy."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, PostingPolicy
from posting.reconciliation import payout_reconcile
from posting.services import batch_close, journal_post_order, policy_update
from tests.commerce.factories import shopify_order


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    def make(scopes=("read", "write")):
        return api_client(world.host(world.acme), make_key(tenant=world.acme, scopes=list(scopes)))

    return make


def _post_order(world, *, batched: bool = False):
    with tenant_context(world.acme):
        standard_chart_apply()
        if batched:
            policy_update(mode="batched")
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        return journal_post_order(order=order).entry


def test_journals_list_filter_and_detail_with_lines(world, acme_api):
    entry = _post_order(world)
    api = acme_api(scopes=["read"])
    listing = api.get("/api/v1/journals/?status=ready").json()
    assert [(row["source_key"], row["total"], row["currency"]) for row in listing["results"]] == [
        (entry.source_key, "225.30", "USD")
    ]
    assert api.get("/api/v1/journals/?status=acked").json()["results"] == []
    detail = api.get(f"/api/v1/journals/{entry.pk}/").json()
    assert len(detail["lines"]) == 10
    clearing = next(line for line in detail["lines"] if line["account"] == "1110")
    assert clearing == {
        "position": clearing["position"],
        "account": "1110",
        "account_name": "Card payments clearing",
        "role": "payment_clearing",
        "debit": "170.30",
        "credit": "0.00",
        "dimensions": {"channel": "web", "gateway": "stripe", "payment_method": "card"},
        "description": "Payment clearing (stripe, card)",
        "sources": [
            {"type": "order", "id": entry.lines.first().sources[0]["id"], "external_id": "1001", "raw_event_id": None}
        ],
    }
    assert api.get("/api/v1/journals/999999/").status_code == 404


def test_trial_balance_balances_and_respects_as_of(world, acme_api):
    _post_order(world)
    api = acme_api(scopes=["read"])
    body = api.get("/api/v1/trial-balance/?as_of=2026-03-14").json()
    debit = sum(float(row["debit"]) for row in body["rows"])
    credit = sum(float(row["credit"]) for row in body["rows"])
    assert (body["as_of"], round(debit, 2), round(credit, 2)) == ("2026-03-14", 225.30, 225.30)
    tax = [row for row in body["rows"] if row["code"] == "2100"]
    assert tax == [
        {
            "code": "2100",
            "name": "Sales tax payable",
            "type": "liability",
            "currency": "USD",
            "debit": "0.00",
            "credit": "15.30",
            "balance": "-15.30",
        }
    ]
    assert api.get("/api/v1/trial-balance/?as_of=2026-03-13").json()["rows"] == []
    assert api.get("/api/v1/trial-balance/?as_of=yesterday").status_code == 400


def test_batches_list_and_detail_summary(world, acme_api):
    entry = _post_order(world, batched=True)
    api = acme_api(scopes=["read"])
    listing = api.get("/api/v1/batches/").json()["results"]
    assert [(row["id"], row["status"], row["entry_count"]) for row in listing] == [(entry.batch_id, "open", 1)]
    with tenant_context(world.acme):
        summary_entry = batch_close(batch=entry.batch)
    detail = api.get(f"/api/v1/batches/{entry.batch_id}/").json()
    assert (detail["status"], detail["summary_entry"], detail["entries"]) == ("closed", summary_entry.pk, [entry.pk])
    assert {
        "account": "4100",
        "role": "shipping_income",
        "dimensions": {"channel": "web"},
        "debit": "0.00",
        "credit": "10.00",
    } in detail["summary"]
    assert api.get("/api/v1/batches/?status=open").json()["results"] == []


def test_policy_get_defaults_and_patch(world, acme_api):
    api = acme_api()
    assert api.get("/api/v1/posting-policy/").json() == {
        "recognise_on": "paid",
        "discounts": "gross",
        "allocation": "lines",
        "mode": "per_document",
        "batch_window": "daily",
        "cutoff_hour": 0,
        "unallocated_refunds": "prorate",
    }
    patched = api.patch("/api/v1/posting-policy/", {"recognise_on": "fulfilled", "cutoff_hour": 5})
    assert (patched.status_code, patched.json()["recognise_on"], patched.json()["cutoff_hour"]) == (200, "fulfilled", 5)
    with tenant_context(world.acme):
        assert PostingPolicy.objects.get().recognise_on == "fulfilled"
    patched = api.patch("/api/v1/posting-policy/", {"unallocated_refunds": "refunds_account"})
    assert (patched.status_code, patched.json()["unallocated_refunds"]) == (200, "refunds_account")
    assert api.patch("/api/v1/posting-policy/", {"unallocated_refunds": "guess"}).status_code == 400
    with tenant_context(world.acme):
        assert PostingPolicy.objects.get().unallocated_refunds == "refunds_account"
    bad = api.patch("/api/v1/posting-policy/", {"cutoff_hour": 24, "colour": "red"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"colour"}
    assert acme_api(scopes=["read"]).patch("/api/v1/posting-policy/", {"mode": "batched"}).status_code == 403


def test_ledger_api_is_404_for_another_tenant_and_on_the_partner_console(world, make_key, api_client, throttle_reset):
    entry = _post_order(world)
    cedar = api_client(world.host(world.acme), make_key(tenant=world.cedar, scopes=["read"]))
    for url in [
        "/api/v1/journals/",
        f"/api/v1/journals/{entry.pk}/",
        "/api/v1/batches/",
        "/api/v1/trial-balance/",
        "/api/v1/posting-policy/",
    ]:
        assert cedar.get(url).status_code == 404, url
    partner_console = api_client("northwind.localhost", make_key(scopes=["read"]))
    assert partner_console.get("/api/v1/journals/").status_code == 404


def _reconciled_payout(world, tenant=None):
    from commerce.services import payout_upsert, refund_upsert
    from posting.reconciliation import payout_reconcile
    from posting.services import journal_post_payout, journal_post_refund
    from tests.commerce.factories import refund, stripe_payout_all_types

    with tenant_context(tenant or world.acme):
        standard_chart_apply()
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj)
        document = refund("R1", (("L1", 1),))
        journal_post_refund(refund=refund_upsert(source="shopify", connection_id=1, document=document).obj)
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout_all_types()).obj
        journal_post_payout(payout=payout)
        payout_reconcile(payout=payout)
        return payout


def test_payouts_list_filter_and_detail_with_line_matches(world, acme_api):
    payout = _reconciled_payout(world)
    api = acme_api(scopes=["read"])
    listing = api.get("/api/v1/payouts/").json()
    assert [
        (row["external_id"], row["reconciliation_status"], row["matched_lines"], row["line_count"], row["difference"])
        for row in listing["results"]
    ] == [("po_1", "differences", 6, 7, "3.25")]
    assert api.get("/api/v1/payouts/?status=matched").json()["results"] == []
    assert api.get("/api/v1/payouts/?status=bogus").status_code == 400
    detail = api.get(f"/api/v1/payouts/{payout.pk}/").json()
    assert [(line["type"], line["state"], line["role"], line["difference"]) for line in detail["lines"]] == [
        ("charge", "matched", "payment_clearing", "0"),
        ("refund", "matched", "payment_clearing", "0"),
        ("fee", "matched", "merchant_fees", "0"),
        ("fee", "matched", "merchant_fees", "0"),
        ("adjustment", "matched", "payout_adjustment", "0"),
        ("reserve", "matched", "reserve", "0"),
        ("other", "suspense", "payout_suspense", "3.25"),
    ]
    assert detail["lines"][0]["document"]["type"] == "order"
    assert detail["lines"][1]["document"]["external_id"] == "R1"
    assert len(detail["journal_entries"]) == 1 and len(detail["open_exceptions"]) == 1
    assert api.get("/api/v1/payouts/999999/").status_code == 404


def test_reconciliations_list_and_other_tenants_payouts_are_not_found(world, acme_api, make_key, api_client):
    payout = _reconciled_payout(world)
    listing = acme_api(scopes=["read"]).get("/api/v1/reconciliations/?status=differences").json()
    assert [(row["payout"], row["status"], row["matched_lines"], row["line_count"]) for row in listing["results"]] == [
        (payout.pk, "differences", 6, 7)
    ]
    assert listing["results"][0]["difference"] == "3.25"
    bluebird = api_client(world.host(world.bluebird), make_key(tenant=world.bluebird, scopes=["read"]))
    assert bluebird.get(f"/api/v1/payouts/{payout.pk}/").status_code == 404
    assert bluebird.get("/api/v1/payouts/").json()["results"] == []
    assert bluebird.get("/api/v1/reconciliations/").json()["results"] == []


def test_policy_change_is_audited_as_a_diff_with_the_key_and_request_id(world, acme_api):
    from tenants.models import ApiKey, AuditEvent

    api = acme_api()
    patched = api.patch("/api/v1/posting-policy/", {"mode": "batched", "cutoff_hour": 5})
    assert patched.status_code == 200
    api.patch("/api/v1/posting-policy/", {"mode": "batched"})  # nothing changed: no record
    (event,) = AuditEvent.objects.filter(action="posting_policy.update")
    prefix = ApiKey.objects.filter(tenant=world.acme).latest("id").prefix
    assert (event.actor_label, event.tenant, event.partner) == (f"api-key:{prefix}", world.acme, world.northwind)
    assert event.changes == {"cutoff_hour": [0, 5], "mode": ["per_document", "batched"]}
    assert event.request_id == patched["X-Request-ID"]


def test_policy_change_in_the_portal_is_audited_as_the_person(world, host_client):
    from posting.services import POLICY_FIELDS
    from tenants.models import AuditEvent

    with tenant_context(world.acme):
        current = {name: getattr(PostingPolicy.objects.get_or_create(singleton=1)[0], name) for name in POLICY_FIELDS}
    response = host_client(world.host(world.acme), world.acme_admin).post(
        "/ledger/policy/", {**current, "discounts": "net"}
    )
    assert response.status_code == 302
    (event,) = AuditEvent.objects.filter(action="posting_policy.update")
    assert (event.actor_label, event.changes) == (world.acme_admin.email, {"discounts": ["gross", "net"]})


def test_journals_updated_since_sees_a_status_change_written_by_queryset_update(world, acme_api):
    entry = _post_order(world)
    api = acme_api(scopes=["read"])
    cut = timezone.now()
    assert api.get("/api/v1/journals/", data={"updated_since": cut.isoformat()}).json()["results"] == []
    with tenant_context(world.acme):
        JournalEntry.objects.filter(pk=entry.pk).update(status=JournalEntry.Status.ACKED)  # as the ERP push does
    [row] = api.get("/api/v1/journals/", data={"updated_since": cut.isoformat()}).json()["results"]
    assert (row["id"], row["status"]) == (entry.pk, "acked")
    assert row["updated_at"] >= cut.isoformat().replace("+00:00", "Z")


def test_payouts_and_reconciliations_updated_since_see_a_recheck(world, acme_api):
    payout = _reconciled_payout(world)
    api = acme_api(scopes=["read"])
    cut = timezone.now()
    for path in ("/api/v1/payouts/", "/api/v1/reconciliations/"):
        assert api.get(path, data={"updated_since": cut.isoformat()}).json()["results"] == []
    with tenant_context(world.acme):
        payout_reconcile(payout=payout)  # checked again: the payout's row did not change, its reconciliation did
    assert [
        row["id"] for row in api.get("/api/v1/payouts/", data={"updated_since": cut.isoformat()}).json()["results"]
    ] == [payout.pk]
    assert [
        row["payout"]
        for row in api.get("/api/v1/reconciliations/", data={"updated_since": cut.isoformat()}).json()["results"]
    ] == [payout.pk]
