"""Returns pages (commerce/views_returns.py): the queue with filters, KPIs and approve/reject for
people who may act (not viewers), the detail with its timeline and actions, the create form."""

import pytest
from django.core.paginator import Paginator
from django.test import Client
from django_tenants.utils import tenant_context

from commerce.models import Return
from commerce.returns import LineRequest, return_create
from commerce.services import order_upsert
from tenants.models import Membership
from tenants.services import membership_grant
from tests.commerce.factories import shopify_order
from tests.factories import UserFactory


@pytest.fixture
def ret(world):
    with tenant_context(world.acme):
        order = order_upsert(source="woocommerce", connection_id=3, document=shopify_order()).obj
        return return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)])


def _client(world, user):
    client = Client(HTTP_HOST=world.host(world.acme))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_queue_lists_filters_and_shows_kpis(world, ret):
    client = _client(world, world.acme_admin)
    page = client.get("/returns/")
    body = page.content.decode()
    assert page.status_code == 200
    assert ret.name in body and 'data-testid="return-kpis"' in body and "returns-data" in body
    assert f'data-testid="approve-{ret.pk}"' in body
    assert ret.name not in client.get("/returns/?status=approved").content.decode().split("<table")[-1]


def test_approve_from_the_queue_then_an_illegal_move_is_409(world, ret):
    client = _client(world, world.acme_admin)
    assert client.post("/returns/", {"return": ret.pk, "action": "approve"}).status_code == 302
    with tenant_context(world.acme):
        assert Return.objects.get(pk=ret.pk).status == "approved"
    refused = client.post(f"/returns/{ret.pk}/", {"action": "inspect"})
    assert refused.status_code == 409


def test_a_viewer_reads_but_cannot_act(world, ret):
    viewer = UserFactory(email="viewer-returns@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    client = _client(world, viewer)
    assert f"approve-{ret.pk}" not in client.get("/returns/").content.decode()
    assert client.post("/returns/", {"return": ret.pk, "action": "approve"}).status_code == 403
    assert client.post(f"/returns/{ret.pk}/", {"action": "approve"}).status_code == 403
    assert client.get("/returns/new/").status_code == 403
    with tenant_context(world.acme):
        assert Return.objects.get(pk=ret.pk).status == "requested"


def test_detail_shows_lines_timeline_and_receives_with_dispositions(world, ret):
    client = _client(world, world.acme_admin)
    client.post(f"/returns/{ret.pk}/", {"action": "approve"})
    with tenant_context(world.acme):
        line = ret.lines.get()
    client.post(f"/returns/{ret.pk}/", {"action": "receive", f"disposition-{line.pk}": "scrap"})
    body = client.get(f"/returns/{ret.pk}/").content.decode()
    assert 'data-testid="return-timeline"' in body and "Received" in body
    with tenant_context(world.acme):
        line.refresh_from_db()
        assert (line.disposition, Return.objects.get(pk=ret.pk).status) == ("scrap", "received")


def test_create_form_finds_the_order_and_requests_a_return(world, ret):
    client = _client(world, world.acme_admin)
    assert client.get("/returns/new/?order=nope").status_code == 404
    with tenant_context(world.acme):
        order = ret.order
        line = order.lines.get(external_id="L2")
    form = client.get("/returns/new/?order=1001")
    assert form.status_code == 200 and f"qty-{line.pk}" in form.content.decode()
    created = client.post(
        "/returns/new/?order=1001",
        {
            f"qty-{line.pk}": "1",
            f"reason-{line.pk}": "broken",
            "restocking_fee": "0",
            "shipping_cost": "0",
            "shipping_paid_by": "merchant",
        },
    )
    assert created.status_code == 302
    with tenant_context(world.acme):
        new = Return.objects.exclude(pk=ret.pk).get()
        assert (new.origin, list(new.lines.values_list("quantity", "reason"))) == ("portal", [(1, "broken")])


def test_the_policy_page_sets_the_approval_limit_audited_and_viewers_cannot(world):
    from commerce.models import ReturnPolicy
    from tenants.models import AuditEvent

    client = _client(world, world.acme_admin)
    assert client.get("/returns/policy/").status_code == 200
    saved = client.post(
        "/returns/policy/",
        {"second_approval_above": "250", "refund_unreceived_days": "10", "received_unrefunded_days": "5"},
    )
    assert saved.status_code == 302
    with tenant_context(world.acme):
        policy = ReturnPolicy.objects.get()
        assert (policy.second_approval_above, policy.refund_unreceived_days, policy.received_unrefunded_days) == (
            250,
            10,
            5,
        )
    assert AuditEvent.objects.filter(tenant=world.acme, action="return_policy.update").count() == 1
    assert client.post("/returns/policy/", {"second_approval_above": "-1"}).status_code == 400
    viewer = UserFactory(email="viewer-policy@acme.test")
    membership_grant(user=viewer, tenant=world.acme, role=Membership.Role.TENANT_VIEWER)
    assert _client(world, viewer).post("/returns/policy/", {"second_approval_above": "1"}).status_code == 403


def test_the_pager_keeps_the_status_and_the_search_url_encoded(world, monkeypatch):
    monkeypatch.setattr("commerce.views_returns.Paginator", lambda rows, per_page: Paginator(rows, 1))
    with tenant_context(world.acme):
        for n in range(3):
            order = order_upsert(
                source="woocommerce", connection_id=3, document=shopify_order(external_id=f"x y/&<{n}")
            ).obj
            return_create(order=order, lines=[LineRequest(order.lines.get(external_id="L1"), 1)])
    page = _client(world, world.acme_admin).get("/returns/?status=requested&q=x%20y%2F%26%3C&page=2")
    assert (
        '<nav class="pager" aria-label="Pages">\n'
        '<a href="?status=requested&amp;q=x%20y/%26%3C&amp;page=1">← Previous</a>\n'
        "<span>Page 2 of 3</span>\n"
        '<a href="?status=requested&amp;q=x%20y/%26%3C&amp;page=3">Next →</a>\n</nav>\n'
    ) in page.content.decode()
