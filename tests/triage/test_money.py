"""Money at risk (issue 18): each exception carries what its documents hold back, the partner
index keeps it, and the inbox (pages and API) sorts by it."""

from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from commerce.services import order_upsert, payout_upsert, refund_upsert
from mappings.services import standard_chart_apply
from posting.services import journal_post_order
from tests.commerce.factories import jpy_order, refund, shopify_order, stripe_payout
from tests.triage.conftest import probe, raise_exception
from triage import services
from triage.partner.models import TriageIndex

ACME = "acme.northwind.localhost"
NORTHWIND = "northwind.localhost"

pytestmark = pytest.mark.usefixtures("throttle_reset")


def _order(external_id="1001", **changes):
    document = shopify_order(external_id=external_id, **changes)
    return order_upsert(source="shopify", connection_id=1, document=document).obj


def _at_risk(exception):
    exception.refresh_from_db()
    row = TriageIndex.objects.get(exception_id=exception.pk)
    return (exception.money_at_risk, exception.money_currency), (row.money_at_risk, row.money_currency)


def test_unposted_order_holds_back_its_line_level_total(world):
    with tenant_context(world.acme):
        exception = raise_exception(_order())
        group, index = _at_risk(exception)
        occurrence = exception.occurrences.get()
    assert group == index == (D("195.30"), "USD")  # the factory's line-level total, as posting computes it
    assert (occurrence.money_at_risk, occurrence.money_currency) == (D("195.3000"), "USD")


def test_tax_inclusive_order_does_not_add_its_taxes_again(world):
    with tenant_context(world.acme):
        order = order_upsert(source="shopify", connection_id=1, document=jpy_order()).obj
        group, _ = _at_risk(raise_exception(order))
    assert group == (D("3000"), "JPY")  # 3 x 1,000 yen, the 272 yen of tax included


def test_refund_holds_back_its_amount_or_its_lines_at_net_price(world):
    with tenant_context(world.acme):
        _order()
        stated = refund_upsert(
            source="shopify", connection_id=1, document=refund("r1", (("L3", 1),), amount=D("18.50"))
        ).obj
        from_lines = refund_upsert(source="shopify", connection_id=1, document=refund("r2", (("L1", 1),))).obj
        line = from_lines.lines.get().order_line
        stated_group, _ = _at_risk(raise_exception(stated, kind="posting", cause="refund_exceeds_posted"))
        lines_group, _ = _at_risk(raise_exception(from_lines, kind="reconciliation", cause="invalid"))
    assert stated_group == (D("18.50"), "USD")
    assert lines_group == ((line.net / line.quantity).quantize(D("0.01")), "USD")
    assert line.quantity == 2 and lines_group[0] > 0


def test_payout_holds_back_its_net(world):
    with tenant_context(world.acme):
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        group, index = _at_risk(raise_exception(payout, kind="reconciliation", cause="reconciliation_difference"))
    assert group == index == (D("104.59"), "USD")


def test_failed_journal_push_holds_back_the_journal_total(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        entry = journal_post_order(order=_order()).entry
        debits = sum(line.debit for line in entry.lines.all())
        group, index = _at_risk(raise_exception(entry, kind="erp_push", cause="closed_period"))
    assert group == index == (debits, "USD")
    assert debits == D("225.30")  # the posted order's debits: card, gift card, discounts and shipping tax


def test_no_document_is_nothing_at_risk(world):
    with tenant_context(world.acme):
        group, index = _at_risk(raise_exception(probe("connection")))
        bare, _ = _at_risk(raise_exception(None, cause="sync_failed", kind="sync"))
    assert group == index == (D("0"), "")
    assert bare == (D("0"), "")


def test_group_sums_its_open_objects_and_drops_one_that_succeeded(world):
    with tenant_context(world.acme):
        first, second = _order("2001"), _order("2002", vendor_total=None)
        raise_exception(first)
        exception = raise_exception(second)
        both, _ = _at_risk(exception)
        services.exception_resolve_for_object(obj=first, reason="Posted.")
        one, index = _at_risk(exception)
    assert both == (D("390.60"), "USD")
    assert one == index == (D("195.30"), "USD")


def _three_at_risk(world):
    """Acme: a small order group, a large payout group, a probe with nothing at risk."""
    with tenant_context(world.acme):
        small = raise_exception(_order(), title="Small order")
        nothing = raise_exception(probe("x"), kind="sync", cause="auth", severity="critical", title="Nothing")
        payout = payout_upsert(source="stripe", connection_id=2, document=stripe_payout()).obj
        large = raise_exception(_order("3001", vendor_total=None), kind="posting", cause="unbalanced", title="Large")
        raise_exception(_order("3002"), kind="posting", cause="unbalanced", title="Large")
        raise_exception(payout, kind="reconciliation", cause="reconciliation_difference", title="Payout")
    return small, nothing, large


def test_tenant_inbox_sorts_by_money_at_risk_by_default(world, host_client):
    _, nothing, _ = _three_at_risk(world)
    client = host_client(ACME, world.acme_admin)
    default = client.get("/exceptions/")
    by_sla = client.get("/exceptions/", {"sort": "sla"})
    titles = [row.title for row in default.context["page"].object_list]
    assert default.status_code == 200
    assert titles == ["Large", "Small order", "Payout", "Nothing"]
    assert "390.60 USD" in default.content.decode()
    assert by_sla.context["page"].object_list[0].pk == nothing.pk  # critical: soonest SLA


def test_partner_inbox_sorts_by_money_at_risk_by_default(world, host_client):
    _three_at_risk(world)
    with tenant_context(world.bluebird):
        raise_exception(_order("9001"), title="Bluebird order")
    client = host_client(NORTHWIND, world.partner_admin)
    response = client.get("/exceptions/")
    rows = [(row.tenant.slug, row.title, row.money_at_risk) for row in response.context["page"].object_list]
    assert rows == [
        ("acme", "Large", D("390.6000")),
        ("acme", "Small order", D("195.3000")),
        ("bluebird", "Bluebird order", D("195.3000")),
        ("acme", "Payout", D("104.5900")),
        ("acme", "Nothing", D("0")),
    ]  # a tie goes to the sooner SLA: acme's order was raised first
    assert "390.60 USD" in response.content.decode()


def test_api_exposes_money_at_risk_and_orders_by_it(world, api_client, make_key):
    _, nothing, _ = _three_at_risk(world)
    client = api_client(ACME, make_key(tenant=world.acme))
    by_money = client.get("/api/v1/exceptions/", data={"ordering": "-money_at_risk"}).json()
    first = client.get("/api/v1/exceptions/", data={"ordering": "-money_at_risk", "page_size": 2}).json()
    second = api_client(ACME, make_key(tenant=world.acme)).client.get(first["next"]).json()
    by_sla = client.get("/api/v1/exceptions/").json()
    bad = client.get("/api/v1/exceptions/", data={"ordering": "money"})
    assert [(row["title"], row["money_at_risk"], row["money_currency"]) for row in by_money["results"]] == [
        ("Large", "390.6000", "USD"),
        ("Small order", "195.3000", "USD"),
        ("Payout", "104.5900", "USD"),
        ("Nothing", "0.0000", ""),
    ]
    assert [row["title"] for row in first["results"] + second["results"]] == [
        "Large",
        "Small order",
        "Payout",
        "Nothing",
    ]
    assert by_sla["results"][0]["id"] == nothing.pk
    assert bad.status_code == 400


def test_partner_api_orders_by_money_at_risk(world, api_client, make_key):
    _three_at_risk(world)
    client = api_client(NORTHWIND, make_key(partner=world.northwind))
    body = client.get("/api/v1/partner-exceptions/", data={"ordering": "-money_at_risk"}).json()
    assert [(row["tenant"], row["title"], row["money_at_risk"]) for row in body["results"]] == [
        ("acme", "Large", "390.6000"),
        ("acme", "Small order", "195.3000"),
        ("acme", "Payout", "104.5900"),
        ("acme", "Nothing", "0.0000"),
    ]
