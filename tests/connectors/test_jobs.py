import datetime as dt
from decimal import Decimal as D

import httpx
import pytest
import respx
from django.utils import timezone
from django_tenants.utils import tenant_context

from connectors import inbox, sync
from connectors.inbox import event_process, event_store
from connectors.models import InboundEvent
from mappings.services import standard_chart_apply
from portal import tasks
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture_bytes
from triage.models import Exception as TriageException

SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"


def test_the_per_minute_fan_out_runs_the_connector_jobs(world, monkeypatch, django_capture_on_commit_callbacks):
    swept, started = [], []
    monkeypatch.setattr(inbox, "_dispatch", swept.append)
    monkeypatch.setattr(sync, "_dispatch", lambda run_id, *, queue, step, countdown=0: started.append(run_id))
    with tenant_context(world.acme):
        conn = ConnectionFactory(next_sync_at=timezone.now() - dt.timedelta(minutes=1))
        event, _ = event_store(
            connection=conn, topic="orders/create", external_id="1", body=b'{"id": 1}', dispatch=False
        )
        InboundEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - dt.timedelta(minutes=10))
        with django_capture_on_commit_callbacks(execute=True):
            results = tasks.tenant_periodic_run()
    assert {name: results[name] for name in results if name.startswith("connectors.")} == {
        "connectors.inbox_sweep": "ok",
        "connectors.syncs_due": "ok",
        "connectors.fulfilment_route_send": "ok",
        "connectors.tokens_refresh": "ok",
        "connectors.active_connections_meter": "ok",
    }
    assert swept == [event.pk]
    assert len(started) == 1


@pytest.mark.parametrize(
    ("name", "expected_cause"),
    [
        ("orders_create_taxes_included_gbp.json", None),
        ("orders_create_marketplace_tax.json", None),
        ("orders_create_total_mismatch.json", "totals_mismatch"),
    ],
)
@respx.mock
def test_vendor_traps_post_balanced_journals_and_flag_what_does_not_add_up(world, name, expected_cause):
    # The GBP order was paid partly by gift card: its transactions say how much.
    respx.get(f"{SHOP}/orders/5741330710853/transactions.json").mock(
        return_value=httpx.Response(
            200,
            json={
                "transactions": [
                    {"id": 1, "kind": "sale", "status": "success", "gateway": "gift_card", "amount": "20.00"},
                    {"id": 2, "kind": "sale", "status": "success", "gateway": "shopify_payments", "amount": "44.99"},
                ]
            },
        )
    )
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        body = fixture_bytes("shopify", name)
        import json

        event, _ = event_store(
            connection=conn, topic="orders/create", external_id=str(json.loads(body)["id"]), body=body, dispatch=False
        )
        processed = event_process(event_id=event.pk)
        assert processed.status == "processed", processed.last_error
        entry = JournalEntry.objects.get()
        assert entry_balance(entry=entry) == 0
        causes = set(TriageException.objects.values_list("cause", flat=True))
        assert causes == ({expected_cause} if expected_cause else set())
        if name == "orders_create_taxes_included_gbp.json":
            revenue = sum(line.credit for line in entry.lines.filter(role="revenue"))
            assert revenue == D("50.0000")  # 60.00 less the 10.00 VAT it included
            assert sum(line.debit for line in entry.lines.filter(role="gift_card_liability")) == D("20.0000")
        if name == "orders_create_marketplace_tax.json":
            assert not entry.lines.filter(role="tax_payable").exists()
            assert sum(line.credit for line in entry.lines.filter(role="marketplace_tax_collected")) == D("13.7700")


def test_the_inbox_is_next_due_when_an_event_would_be_swept_or_retried(world):
    from connectors.jobs import inbox_next_due

    now = timezone.now()
    with tenant_context(world.acme):
        assert inbox_next_due(now) is None
        conn = ConnectionFactory()
        received, _ = event_store(connection=conn, topic="orders/create", external_id="1", body=b"{}", dispatch=False)
        failed, _ = event_store(connection=conn, topic="orders/create", external_id="2", body=b"{}", dispatch=False)
        retry_at = now + dt.timedelta(seconds=30)
        InboundEvent.objects.filter(pk=failed.pk).update(status="failed", next_attempt_at=retry_at)
        received.refresh_from_db()
        assert inbox_next_due(now) == min(received.received_at + inbox.SWEEP_AFTER, retry_at)
        InboundEvent.objects.filter(pk=received.pk).update(status="processed")
        assert inbox_next_due(now) == retry_at
        InboundEvent.objects.filter(pk=failed.pk).update(status="held")
        assert inbox_next_due(now) == now  # held events of an active tenant: released at once
