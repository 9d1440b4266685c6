"""Period close of the built-in ledger (DESIGN.md §4): a closed period refuses postings; an entry
dated in one moves to the first open date with a memo; closing and reopening are audited."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from commerce.services import order_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, PeriodClose, PostingBatch
from posting.periods import period_close, period_reopen
from posting.services import (
    batch_close,
    journal_post_cancellation,
    journal_post_order,
    journal_post_refund,
    policy_update,
)
from tenants import services
from tenants.models import AuditEvent, Membership
from tests.commerce.factories import kwd_order, refund, shopify_order
from tests.factories import UserFactory
from tests.posting.test_versions import _price_change, _upsert

MARCH_END = dt.date(2026, 3, 31)
MOVED_MEMO = "(originally dated 2026-03-14; period closed through 2026-03-31)"
ORDER_LINES = [
    ("4500", D("9.0000"), D("0")),
    ("4500", D("16.0000"), D("0")),
    ("1200", D("5.0000"), D("0")),
    ("1110", D("170.3000"), D("0")),
    ("2300", D("25.0000"), D("0")),
    ("4010", D("0"), D("120.0000")),
    ("4020", D("0"), D("80.0000")),
    ("2100", D("0"), D("7.2000")),
    ("2100", D("0"), D("8.1000")),
    ("4100", D("0"), D("10.0000")),
]


def lines_of(entry):
    return [(line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account")]


def test_order_dated_in_a_closed_period_moves_to_the_first_open_date_with_a_memo(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        period_close(through=MARCH_END, actor=world.acme_admin)
        order = _upsert(shopify_order())
        entry = journal_post_order(order=order).entry
        assert entry.date == dt.date(2026, 4, 1)
        assert entry.memo == f"Order 1001 {MOVED_MEMO}"
        assert lines_of(entry) == ORDER_LINES  # moved, never dropped nor changed
        assert not JournalEntry.objects.filter(date__lte=MARCH_END).exists()


def test_refund_and_cancellation_for_a_closed_date_move_too(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = _upsert(shopify_order())
        journal_post_order(order=order)
        first = refund_upsert(source="shopify", connection_id=1, document=refund("R1", (("L1", 1),))).obj
        period_close(through=MARCH_END, actor=world.acme_admin)
        refunded = journal_post_refund(refund=first).entry
        assert (
            refunded.date,
            refunded.memo.endswith("(originally dated 2026-03-17; period closed through 2026-03-31)"),
        ) == (
            dt.date(2026, 4, 1),
            True,
        )
        cancelled = replace(shopify_order(), source_version=2, cancelled_at=dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC))
        order = _upsert(cancelled)
        cancellation = journal_post_cancellation(order=order).entry
        assert cancellation.date == dt.date(2026, 4, 1)
        assert "period closed through 2026-03-31" in cancellation.memo
        # Only the order's own entry, posted before the close, is dated in March.
        assert list(JournalEntry.objects.filter(date__lte=MARCH_END).values_list("source_key", flat=True)) == [
            f"order:{order.pk}:v1"
        ]


def test_change_to_an_order_whose_original_date_is_closed_posts_on_the_change_date(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        first = journal_post_order(order=_upsert(shopify_order())).entry
        period_close(through=MARCH_END, actor=world.acme_admin)
        entry = journal_post_order(order=_upsert(_price_change())).entry
        assert (entry.date, entry.memo) == (dt.date(2026, 4, 2), "Order 1001: version change v1 → v2, difference only")
        assert lines_of(entry) == [
            ("4500", D("0.2800"), D("0")),
            ("4500", D("0"), D("0.2800")),
            ("1110", D("10.0000"), D("0")),
            ("4010", D("0"), D("10.0000")),
        ]
        first.refresh_from_db()
        assert (first.date, JournalEntry.objects.count()) == (dt.date(2026, 3, 14), 2)  # closed history untouched


def test_change_received_in_a_closed_period_moves_to_the_first_open_date(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        journal_post_order(order=_upsert(shopify_order()))
        period_close(through=dt.date(2026, 4, 30), actor=world.acme_admin)
        entry = journal_post_order(order=_upsert(_price_change())).entry
        assert entry.date == dt.date(2026, 5, 1)
        assert entry.memo.endswith("(originally dated 2026-04-02; period closed through 2026-04-30)")


def test_batch_summary_of_a_closed_window_moves_to_the_first_open_date(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        policy_update(mode="batched")
        journal_post_order(order=order_upsert(source="shopify", connection_id=1, document=kwd_order()).obj)
        period_close(through=MARCH_END, actor=world.acme_admin)
        summary = batch_close(batch=PostingBatch.objects.get())
        assert summary.date == dt.date(2026, 4, 1)
        assert summary.memo == "Summary of 1 entries from 2026-03-14 00:00 " + MOVED_MEMO


def test_close_and_reopen_rules(world):
    with tenant_context(world.acme):
        with pytest.raises(ValidationError, match="last day of a month"):
            period_close(through=dt.date(2026, 3, 30), actor=None)
        with pytest.raises(ValidationError, match="has not ended"):
            period_close(through=dt.date(2099, 1, 31), actor=None)
        with pytest.raises(ValidationError, match="No period is closed"):
            period_reopen(through=None, actor=None)
        period_close(through=dt.date(2026, 4, 30), actor=None)
        with pytest.raises(ValidationError, match="already closed through 2026-04-30"):
            period_close(through=MARCH_END, actor=None)
        with pytest.raises(ValidationError, match="earlier month end"):
            period_reopen(through=dt.date(2026, 5, 31), actor=None)
        assert period_reopen(through=MARCH_END, actor=None).closed_through == MARCH_END


# ---- through HTTP: the policy page and the API ----------------------------------------------


def _audits(world):
    return list(
        AuditEvent.objects.filter(tenant=world.acme, action__startswith="ledger.")
        .order_by("pk")
        .values_list("action", "actor_label", "changes")
    )


def test_admin_closes_and_reopens_from_the_policy_page_and_both_are_audited(world, host_client):
    client = host_client(world.host(world.acme), world.acme_admin)
    assert "No period is closed." in client.get("/ledger/policy/").content.decode()
    response = client.post("/ledger/period/close/", {"closed_through": "2026-03-31"})
    assert (response.status_code, response["Location"]) == (302, "/ledger/policy/")
    page = client.get("/ledger/policy/").content.decode()
    assert "closed through <strong>2026-03-31</strong>" in page and "2026-04-01" in page
    bad = client.post("/ledger/period/close/", {"closed_through": "2026-04-15"})
    assert bad.status_code == 400 and "Close through the last day of a month." in bad.content.decode()
    assert client.post("/ledger/period/reopen/", {"closed_through": ""}).status_code == 302
    with tenant_context(world.acme):
        assert PeriodClose.objects.get().closed_through is None
    email = world.acme_admin.email
    assert _audits(world) == [
        ("ledger.period_closed", email, {"closed_through": [None, "2026-03-31"]}),
        ("ledger.period_reopened", email, {"closed_through": ["2026-03-31", None]}),
    ]


def test_viewer_sees_the_closed_period_but_cannot_close_or_reopen(world, host_client):
    viewer = UserFactory(email="viewer-periods@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    page = client.get("/ledger/policy/").content.decode()
    assert "Only a tenant admin can close or reopen periods." in page
    assert 'action="/ledger/period/close/"' not in page
    assert client.post("/ledger/period/close/", {"closed_through": "2026-03-31"}).status_code == 403
    assert client.post("/ledger/period/reopen/", {"closed_through": ""}).status_code == 403
    with tenant_context(world.acme):
        assert PeriodClose.objects.filter(closed_through__isnull=False).count() == 0
    assert _audits(world) == []


@pytest.fixture
def acme_api(world, make_key, api_client, throttle_reset):
    def make(scopes=("read", "write", "admin")):
        return api_client(world.host(world.acme), make_key(tenant=world.acme, scopes=list(scopes)))

    return make


def test_api_closes_and_reopens_with_an_admin_key_and_audits(world, acme_api):
    api = acme_api()
    assert api.get("/api/v1/ledger-period/").json()["closed_through"] is None
    closed = api.post("/api/v1/ledger-period/close/", {"closed_through": "2026-03-31"})
    assert closed.status_code == 200
    assert (closed.json()["closed_through"], closed.json()["first_open_date"]) == ("2026-03-31", "2026-04-01")
    bad = api.post("/api/v1/ledger-period/close/", {"closed_through": "2026-02-28"})
    assert bad.status_code == 400 and "already closed" in str(bad.json())
    assert api.post("/api/v1/ledger-period/close/", {"closed_through": "soon"}).status_code == 400
    reopened = api.post("/api/v1/ledger-period/reopen/", {"closed_through": None})
    assert (reopened.status_code, reopened.json()["closed_through"]) == (200, None)
    actions = [(action, label.startswith("api-key:")) for action, label, _changes in _audits(world)]
    assert actions == [("ledger.period_closed", True), ("ledger.period_reopened", True)]


def test_api_refuses_keys_without_admin_scope_and_viewer_sessions(world, acme_api, host_client):
    assert (
        acme_api(scopes=["read", "write"])
        .post("/api/v1/ledger-period/close/", {"closed_through": "2026-03-31"})
        .status_code
        == 403
    )
    assert acme_api(scopes=["read"]).get("/api/v1/ledger-period/").status_code == 200
    viewer = UserFactory(email="viewer-api@acme.test")
    services.membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = host_client(world.host(world.acme), viewer)
    response = client.post(
        "/api/v1/ledger-period/close/", {"closed_through": "2026-03-31"}, content_type="application/json"
    )
    assert response.status_code == 403
    with tenant_context(world.acme):
        assert not PeriodClose.objects.filter(closed_through__isnull=False).exists()
    assert _audits(world) == []
