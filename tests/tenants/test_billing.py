"""Rate cards and monthly statements: priced from metered usage, exact to the minor unit, in the
console (admins edit, CSV export) and the partner API; one partner never sees another's."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from tenants.billing import rate_card_set, statements_csv, statements_for_month
from tenants.models import AuditEvent, Tenant
from tenants.usage import usage_increment

MARCH = date(2026, 3, 1)


def _usage(world) -> None:
    usage_increment(metric="orders_ingested", tenant=world.acme, day=date(2026, 3, 2), amount=1200)
    usage_increment(metric="orders_ingested", tenant=world.acme, day=date(2026, 3, 30), amount=3)
    usage_increment(metric="journals_posted", tenant=world.acme, day=date(2026, 3, 2), amount=999)
    usage_increment(metric="active_connections", tenant=world.acme, day=date(2026, 3, 2), amount=2)
    usage_increment(metric="active_connections", tenant=world.acme, day=date(2026, 3, 3), amount=5)
    usage_increment(metric="orders_ingested", tenant=world.acme, day=date(2026, 4, 1), amount=50)  # April
    usage_increment(metric="orders_ingested", tenant=world.cedar, day=date(2026, 3, 2), amount=7)


def _starter(world, **lines) -> None:
    rate_card_set(
        partner=world.northwind,
        plan=Tenant.Plan.STARTER,
        currency="USD",
        monthly_fee=D("49"),
        lines={
            "orders_ingested": (1000, D("0.0333")),
            "journals_posted": (1000, D("0.01")),
            "active_connections": (3, D("5")),
            **lines,
        },
    )


def test_statement_prices_usage_beyond_the_included_volume_to_the_cent(world):
    _usage(world)
    _starter(world)
    [statement] = statements_for_month(partner=world.northwind, month=MARCH, tenant=world.acme)
    lines = {line.metric: (line.used, line.billable, line.amount) for line in statement.lines}
    assert lines["orders_ingested"] == (1203, 203, D("6.76"))  # 203 x 0.0333 = 6.7599
    assert lines["journals_posted"] == (999, 0, D("0.00"))
    assert lines["active_connections"] == (5, 2, D("10.00"))  # the month's peak day, not 7
    assert (statement.monthly_fee, statement.total) == (D("49.00"), D("65.76"))
    rows = list(csv.reader(io.StringIO(statements_csv(statements=[statement]))))
    assert rows[1] == ["2026-03", "acme", "starter", "monthly_fee", "", "", "", "", "49.00", "USD"]
    assert ["2026-03", "acme", "starter", "orders_ingested", "1203", "1000", "203", "0.0333", "6.76", "USD"] in rows
    assert rows[-1] == ["2026-03", "acme", "starter", "total", "", "", "", "", "65.76", "USD"]


def test_rate_card_refuses_bad_values_and_audits_changes(world):
    with pytest.raises(ValidationError) as refused:
        rate_card_set(
            partner=world.northwind, plan="gold", currency="usd", monthly_fee=D("-1"), lines={"bogus": (1, D(1))}
        )
    assert set(refused.value.message_dict) == {"plan", "currency", "monthly_fee", "lines"}
    _starter(world)
    _starter(world)  # the same card again changes nothing and records nothing
    events = AuditEvent.objects.filter(action="partner.rate_card_set")
    assert events.count() == 1
    assert events.get().changes["monthly_fee"] == ["0.0000", "49.0000"]


def test_zero_decimal_currency_rounds_to_whole_units(world):
    usage_increment(metric="orders_ingested", tenant=world.acme, day=date(2026, 3, 2), amount=3)
    rate_card_set(
        partner=world.northwind,
        plan=Tenant.Plan.STARTER,
        currency="JPY",
        monthly_fee=D("1000"),
        lines={"orders_ingested": (0, D("2.5"))},
    )
    [statement] = statements_for_month(partner=world.northwind, month=MARCH, tenant=world.acme)
    orders = next(line for line in statement.lines if line.metric == "orders_ingested")
    assert (orders.amount, statement.total) == (D("8"), D("1008"))  # 7.5 rounds half up to 8


def test_console_admin_edits_the_card_and_reads_statements(world, host_client):
    _usage(world)
    admin = host_client("northwind.localhost", world.partner_admin)
    assert admin.get("/usage/rates/").status_code == 200
    form = {
        "plan": "starter",
        "starter-currency": "USD",
        "starter-monthly_fee": "49",
        **{f"starter-{metric}_included": "0" for metric in _metrics()},
        **{f"starter-{metric}_unit_price": "0" for metric in _metrics()},
        "starter-orders_ingested_included": "1000",
        "starter-orders_ingested_unit_price": "0.0333",
    }
    assert admin.post("/usage/rates/", form).status_code == 302
    bad = admin.post("/usage/rates/", {**form, "starter-monthly_fee": "-5"})
    assert bad.status_code == 200 and b"greater than or equal to 0" in bad.content
    page = admin.get("/usage/statements/?month=2026-03").content.decode()
    assert 'data-testid="statement-acme"' in page and "55.76 USD" in page
    assert "Cedar" not in page
    exported = admin.get("/usage/statements/?month=2026-03&tenant=acme&format=csv").content.decode()
    assert exported.splitlines()[-1] == "2026-03,acme,starter,total,,,,,55.76,USD"
    assert admin.get("/usage/statements/?tenant=cedar").status_code == 404  # another partner's tenant
    other = host_client("southpaw.localhost", world.other_partner_admin)
    assert "acme" not in other.get("/usage/statements/?month=2026-03").content.decode()
    assert host_client(world.host(world.acme), world.acme_admin).get("/usage/rates/").status_code == 404


def _metrics() -> list[str]:
    from tenants.usage import METRICS

    return list(METRICS)


def test_api_reads_and_sets_rate_cards_and_lists_statements(world, make_key, api_client):
    _usage(world)
    reader = api_client("northwind.localhost", make_key(scopes=["read"]))
    admin = api_client("northwind.localhost", make_key(scopes=["read", "write", "admin"]))
    card = {
        "currency": "USD",
        "monthly_fee": "49.00",
        "lines": [{"metric": "orders_ingested", "included": 1000, "unit_price": "0.0333"}],
    }
    assert reader.put("/api/v1/usage/rate-cards/starter/", card).status_code == 403
    assert admin.put("/api/v1/usage/rate-cards/gold/", card).status_code == 404
    bad = admin.put("/api/v1/usage/rate-cards/starter/", {**card, "currency": "dollars"})
    assert bad.status_code == 400
    saved = admin.put("/api/v1/usage/rate-cards/starter/", card)
    assert saved.status_code == 200
    assert saved.json()["lines"][0] == {"metric": "orders_ingested", "included": 1000, "unit_price": "0.0333"}
    listed = {card["plan"]: card for card in reader.get("/api/v1/usage/rate-cards/").json()}
    assert set(listed) == {"starter", "growth", "enterprise"}
    statements = reader.get("/api/v1/usage/statements/?month=2026-03").json()
    acme = next(statement for statement in statements if statement["tenant"] == "acme")
    assert (acme["total"], acme["currency"]) == ("55.7600", "USD")
    assert "cedar" not in {statement["tenant"] for statement in statements}
    assert reader.get("/api/v1/usage/statements/?month=2026-13").status_code == 400
    assert reader.get("/api/v1/usage/statements/?tenant=cedar").status_code == 404
    exported = reader.get("/api/v1/usage/statements/?month=2026-03&tenant=acme&format=csv")
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().splitlines()[-1] == "2026-03,acme,starter,total,,,,,55.76,USD"
