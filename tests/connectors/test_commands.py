from decimal import Decimal
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from commerce.models import Order, Payout
from connectors.models import Connection, InboundEvent
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import FIXTURES


def _ingest(*args):
    out = StringIO()
    call_command("ingest_file", *args, stdout=out)
    return out.getvalue()


def test_ingest_file_runs_a_saved_shopify_payload_through_the_webhook_path(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
    path = FIXTURES / "shopify" / "orders_create.json"
    output = _ingest("--tenant", "acme", "--vendor", "shopify", "--topic", "orders/create", str(path))
    with tenant_context(world.acme):
        event = InboundEvent.objects.get(connection=conn)
        order = Order.objects.get()
        journal = event.result["documents"][0]["journal_id"]
    assert output.splitlines() == [
        f"event {event.pk} orders/create 5741329006917: processed",
        f"  order 5741329006917 (id {order.pk}): created, posting posted, journal {journal}",
    ]
    again = _ingest("--tenant", "acme", "--vendor", "shopify", "--topic", "orders/create", str(path))
    assert again.splitlines() == [f"event {event.pk} orders/create 5741329006917: duplicate of a stored event"]


def test_ingest_file_csv_prints_each_order_and_the_exception(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        connection_create(vendor="csv", name="Market stall", config={})
    output = _ingest("--tenant", "acme", "--vendor", "csv", "--topic", "orders", str(FIXTURES / "csv" / "orders.csv"))
    lines = output.splitlines()
    assert lines[0].endswith("orders M-1001: processed")
    assert "orders M-1002: processed" in lines[2]
    with tenant_context(world.acme):
        assert Order.objects.count() == 2
    payouts = _ingest(
        "--tenant", "acme", "--vendor", "csv", "--topic", "payouts", str(FIXTURES / "csv" / "payouts.csv")
    )
    assert "payouts SQ-PO-88: processed" in payouts.splitlines()[0]
    with tenant_context(world.acme):
        assert Payout.objects.get().amount == Decimal("25.22")


def test_ingest_file_refuses_unknown_tenant_missing_connection_and_bad_topic(world):
    path = str(FIXTURES / "shopify" / "orders_create.json")
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        _ingest("--tenant", "nope", "--vendor", "shopify", "--topic", "orders/create", path)
    with pytest.raises(CommandError, match="cedar has no shopify connection"):
        _ingest("--tenant", "cedar", "--vendor", "shopify", "--topic", "orders/create", path)
    with tenant_context(world.acme):
        ConnectionFactory()
    with pytest.raises(CommandError, match="'products/create' is not a Shopify topic"):
        _ingest("--tenant", "acme", "--vendor", "shopify", "--topic", "products/create", path)


def test_rotate_credentials_key_re_encrypts_with_the_newest_key(world, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CONNECTOR_CREDENTIAL_KEYS = [old]
    with tenant_context(world.acme):
        conn = ConnectionFactory(secrets={"credentials": {"access_token": "shpat_rotate_me"}, "webhook_secret": "whs"})
    settings.CONNECTOR_CREDENTIAL_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "acme: 1 connection(s) re-encrypted" in out.getvalue()
    settings.CONNECTOR_CREDENTIAL_KEYS = [new]
    with tenant_context(world.acme):
        fresh = Connection.objects.get(pk=conn.pk)
        assert (fresh.credentials, fresh.webhook_secret) == ({"access_token": "shpat_rotate_me"}, "whs")
