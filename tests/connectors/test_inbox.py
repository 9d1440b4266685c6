import datetime as dt
import json
from decimal import Decimal as D

import httpx
import respx
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order, Payout, Refund
from connectors import inbox
from connectors.inbox import event_process, event_replay, event_store, events_due
from connectors.models import Connection, InboundEvent
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from posting.selectors import entry_balance
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes
from triage.models import Exception as TriageException

SHOPIFY_API = "https://acme-outfitters.myshopify.com/admin/api/2025-07"


def _store(conn, topic, body, external_id=None):
    external_id = external_id or str(json.loads(body).get("id") or json.loads(body)["payout"]["id"])
    event, _ = event_store(connection=conn, topic=topic, external_id=external_id, body=body, dispatch=False)
    return event


def _journal_lines(entry):
    return sorted((line.account.code, line.debit, line.credit) for line in entry.lines.select_related("account"))


def test_order_event_becomes_an_order_and_a_balanced_journal(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event = _store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json"))
        processed = event_process(event_id=event.pk)
        assert processed.status == "processed"
        order = Order.objects.get()
        entry = JournalEntry.objects.get()
        assert (order.source, order.source_connection_id, order.external_id, order.raw_event_id) == (
            "shopify",
            conn.pk,
            "5741329006917",
            event.pk,
        )
        assert processed.result == {
            "documents": [
                {
                    "type": "order",
                    "external_id": "5741329006917",
                    "id": order.pk,
                    "posting": "posted",
                    "journal_id": entry.pk,
                    "outcome": "created",
                }
            ]
        }
        assert entry_balance(entry=entry) == 0
        assert sum(line.debit for line in entry.lines.all()) == D("188.7700")


def test_processing_twice_is_a_no_op(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event = _store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json"))
        event_process(event_id=event.pk)
        again = event_process(event_id=event.pk)
        assert again.attempts == 1
        assert (Order.objects.count(), JournalEntry.objects.count()) == (1, 1)


def test_an_older_version_than_stored_is_ignored(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        newer = _store(conn, "orders/updated", fixture_bytes("shopify", "orders_updated_fulfilled.json"))
        older = _store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json"))
        event_process(event_id=newer.pk)
        stale = event_process(event_id=older.pk)
        assert stale.status == "processed"
        assert stale.result["documents"][0]["outcome"] == "ignored_stale"
        order = Order.objects.get()
        assert (order.source_version, order.raw_event_id) == (1757764931000, newer.pk)
        assert order.fulfilled_at is not None
        assert JournalEntry.objects.count() == 1


def test_refund_event_posts_the_mirror_of_the_order(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event_process(event_id=_store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json")).pk)
        refund_event = event_process(
            event_id=_store(conn, "refunds/create", fixture_bytes("shopify", "refunds_create.json")).pk
        )
        assert refund_event.status == "processed", refund_event.last_error
        refund = Refund.objects.get()
        assert refund.amount == D("19.5300")
        entry = JournalEntry.objects.get(source_key=f"refund:{refund.pk}:v{refund.source_version}")
        assert entry_balance(entry=entry) == 0


def test_refund_before_its_order_is_retried_then_dead_lettered_and_replayable(world, settings):
    settings.CONNECTOR_EVENT_MAX_ATTEMPTS = 2
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event = _store(conn, "refunds/create", fixture_bytes("shopify", "refunds_create.json"))
        first = event_process(event_id=event.pk)
        assert (first.status, first.last_error) == (
            "failed",
            "Refund 1015923171397 is for order 5741329006917, not stored yet.",
        )
        assert first.next_attempt_at > timezone.now()
        refund_event = event_process(event_id=event.pk)
        assert (refund_event.status, refund_event.attempts) == ("dead", 2)
        event_process(event_id=_store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json")).pk)
        event_replay(event=refund_event)
        assert InboundEvent.objects.get(pk=refund_event.pk).status == "received"
        replayed = event_process(event_id=refund_event.pk)
        assert replayed.status == "processed"
        assert Refund.objects.count() == 1
        exception = TriageException.objects.get(cause="dependency_missing")
        assert (exception.kind, exception.status, exception.retry_name) == ("sync", "resolved", "connectors.replay")


def test_dead_letter_raises_a_triage_exception_with_the_payload_and_its_retry_replays(world, settings):
    from triage.services import exception_retry_run

    settings.CONNECTOR_EVENT_MAX_ATTEMPTS = 1
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        event = event_process(
            event_id=_store(conn, "refunds/create", fixture_bytes("shopify", "refunds_create.json")).pk
        )
        assert event.status == "dead"
        standard_chart_apply()
        event_process(event_id=_store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json")).pk)
        exception = TriageException.objects.get(cause="dependency_missing")
        occurrence = exception.occurrences.get()
        assert occurrence.payload == fixture("shopify", "refunds_create.json")
        assert occurrence.retry_args == {"event_id": event.pk}
        assert exception_retry_run(exception_id=exception.pk) == {"succeeded": 1, "failed": 0}
        assert InboundEvent.objects.get(pk=event.pk).status == "processed"
        assert Refund.objects.count() == 1


def test_payout_event_posts_and_reconciles(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event_process(event_id=_store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json")).pk)
        payout_event = event_process(
            event_id=_store(conn, "payouts", fixture_bytes("shopify", "payout_with_transactions.json"), "623721858").pk
        )
        assert payout_event.status == "processed", payout_event.last_error
        payout = Payout.objects.get()
        assert payout.amount == D("169.7700")
        assert payout_event.result["documents"][0]["reconciliation"] == "matched"


def test_unknown_topic_and_garbage_are_dead_letters_with_the_raw_body_kept(world):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        unknown = event_process(event_id=_store(conn, "products/create", b'{"id": 5}').pk)
        assert (unknown.status, unknown.last_error) == (
            "dead",
            "Topic 'products/create' is not one Shopify connections handle.",
        )
        bad_money = fixture("shopify", "orders_create.json")
        bad_money["currency"] = "US"
        broken = event_process(event_id=_store(conn, "orders/create", json.dumps(bad_money).encode()).pk)
        assert (broken.status, broken.last_error) == ("dead", "currency: 'US' is not a currency code.")
        assert InboundEvent.objects.get(pk=broken.pk).body == json.dumps(bad_money)


def test_paused_connection_keeps_events_received_until_resumed(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory(status=Connection.Status.PAUSED)
        event = _store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json"))
        assert event_process(event_id=event.pk).status == "received"
        assert Order.objects.count() == 0


def test_sweeper_sends_events_left_received_and_failed_retries_that_are_due(world, monkeypatch):
    sent = []
    monkeypatch.setattr(inbox, "_dispatch", sent.append)
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        old = _store(conn, "orders/create", b'{"id": 1}', "1")
        fresh = _store(conn, "orders/create", b'{"id": 2}', "2")
        retry = _store(conn, "orders/create", b'{"id": 3}', "3")
        InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(minutes=5))
        InboundEvent.objects.filter(pk=retry.pk).update(
            status="failed", next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
        )
        assert set(events_due().values_list("pk", flat=True)) == {old.pk, retry.pk}
        assert inbox.events_sweep() == 2
        assert sorted(sent) == sorted([old.pk, retry.pk])
        assert fresh.pk not in sent


def test_dispatch_failure_when_the_broker_is_down_leaves_the_event_received(world, monkeypatch):
    from connectors import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(tasks.process_inbound_event, "apply_async", broker_down)
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        event = _store(conn, "orders/create", b'{"id": 1}', "1")
        inbox._dispatch(event.pk)
        assert InboundEvent.objects.get(pk=event.pk).status == "received"


# ---- issue 14: any failure ends the event failed or dead with an exception naming the field -----


def _woo(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        return ConnectionFactory(vendor="woocommerce", config={"store_url": "https://example.com"})


def _ingest_woo(tmp_path, order: dict) -> str:
    from io import StringIO

    from django.core.management import call_command

    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    out = StringIO()
    call_command(
        "ingest_file", "--tenant", "acme", "--vendor", "woocommerce", "--topic", "order.updated", str(path), stdout=out
    )
    return out.getvalue()


def test_a_malformed_woocommerce_number_is_a_dead_letter_naming_the_field_not_a_traceback(world, tmp_path):
    _woo(world)
    order = fixture("woocommerce", "docs_order_727.json")
    order["line_items"][0]["subtotal"] = "abc"
    output = _ingest_woo(tmp_path, order)  # no decimal.InvalidOperation out of the command
    message = "line_items[0].subtotal: 'abc' is not a number."
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.status, event.last_error, event.attempts) == ("dead", message, 1)
        problem = TriageException.objects.get(kind="normalise")
        assert (problem.detail, problem.context["field"], problem.context["event_id"]) == (
            message,
            "line_items[0].subtotal",
            event.pk,
        )
        assert not Order.objects.exists()
    assert output.splitlines() == [f"event {event.pk} order.updated 727: dead", f"  exception: {message}"]


def test_an_unknown_currency_code_is_a_dead_letter_naming_the_currency(world, tmp_path):
    _woo(world)
    order = {**fixture("woocommerce", "docs_order_727.json"), "currency": "XYZ"}
    _ingest_woo(tmp_path, order)
    with tenant_context(world.acme):
        event = InboundEvent.objects.get()
        assert (event.status, event.last_error) == (
            "dead",
            "currency: 'XYZ' is not an ISO 4217 currency with a minor unit.",
        )
        assert TriageException.objects.get(kind="normalise").context["field"] == "currency"
        assert not JournalEntry.objects.exists()


def test_an_unexpected_error_while_normalising_fails_the_event_then_dead_letters_it(world, monkeypatch, settings):
    from connectors.vendors.woocommerce.adapter import WooCommerceAdapter

    conn = _woo(world)

    def explode(self, **kwargs):
        raise RuntimeError("the adapter tripped")

    monkeypatch.setattr(WooCommerceAdapter, "normalise", explode)
    body = fixture_bytes("woocommerce", "docs_order_727.json")
    with tenant_context(world.acme):
        event = _store(conn, "order.updated", body)
        event = event_process(event_id=event.pk)
        message = "Normalising order.updated failed: RuntimeError: the adapter tripped"
        assert (event.status, event.last_error, event.attempts) == ("failed", message, 1)
        assert event.next_attempt_at is not None
        assert not TriageException.objects.exists()
        for _ in range(settings.CONNECTOR_EVENT_MAX_ATTEMPTS - 1):
            event = event_process(event_id=event.pk)
        assert (event.status, event.attempts) == ("dead", settings.CONNECTOR_EVENT_MAX_ATTEMPTS)
        problem = TriageException.objects.get()
        assert (problem.kind, problem.detail, problem.context["error_type"]) == ("sync", message, "RuntimeError")


def test_an_unexpected_error_while_posting_names_the_document_and_rolls_it_back(world, monkeypatch):
    conn = _woo(world)

    def explode(**kwargs):
        raise OSError("ledger disk full")

    monkeypatch.setattr(inbox.posting, "journal_post_order", explode)
    with tenant_context(world.acme):
        event = _store(conn, "order.updated", fixture_bytes("woocommerce", "docs_order_727.json"))
        event = event_process(event_id=event.pk)
        assert (event.status, event.last_error) == (
            "failed",
            "Storing and posting order 727 failed: OSError: ledger disk full",
        )
        assert not Order.objects.exists()  # the half-applied order rolled back with the failure


def test_a_refund_delivered_before_its_order_waits_for_it_then_applies(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory(vendor="woocommerce", config={"store_url": "https://example.com"})
        # Stripe as the sales channel: as a processor beside the shop its refunds are the shop's to book.
        stripe = ConnectionFactory(vendor="stripe", config={"role": "sales_channel"})
        refund = fixture("stripe", "openapi_refund.json")
        event = _store(stripe, "refund.created", json.dumps(refund).encode())
        event = event_process(event_id=event.pk)
        assert (event.status, event.last_error) == (
            "failed",
            "Refund re_1Pgc72B7WZ01zgkWqPvrRrPE is for order ch_1PgafuB7WZ01zgkWXYmPNZs8, not stored yet.",
        )
        assert event.next_attempt_at is not None and not TriageException.objects.exists()
        event_process(event_id=_store(stripe, "charge.succeeded", fixture_bytes("stripe", "openapi_charge.json")).pk)
        event = event_process(event_id=event.pk)
        assert (event.status, Refund.objects.get().amount, conn.vendor) == ("processed", D("1.00"), "woocommerce")


@respx.mock
def test_the_vendor_api_is_read_before_the_events_transaction_and_locks(world):
    order = fixture("shopify", "orders_create.json")
    order["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    depth = []

    def transactions(request):
        depth.append(len(db.atomic_blocks))
        return httpx.Response(200, json=fixture("shopify", "order_transactions_gift_card.json"))

    respx.get(f"{SHOPIFY_API}/orders/5741329006917/transactions.json").mock(side_effect=transactions)
    with tenant_context(world.acme):
        standard_chart_apply()
        event = _store(ConnectionFactory(), "orders/create", json.dumps(order).encode())
        outside = len(db.atomic_blocks)
        processed = event_process(event_id=event.pk)
        assert processed.status == "processed"
        assert depth == [outside]  # no transaction of event_process was open while Shopify answered
        assert sorted(Order.objects.get().payments.values_list("gateway", flat=True)) == [
            "gift_card",
            "shopify_payments",
        ]


@respx.mock
def test_a_failed_read_before_the_transaction_fails_the_event_like_a_normalise_error(world):
    order = fixture("shopify", "orders_create.json")
    order["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    respx.get(f"{SHOPIFY_API}/orders/5741329006917/transactions.json").mock(
        return_value=httpx.Response(200, json={"transactions": "nope"})
    )
    with tenant_context(world.acme):
        event = _store(ConnectionFactory(), "orders/create", json.dumps(order).encode())
        processed = event_process(event_id=event.pk)
        assert (processed.status, processed.attempts) == ("dead", 1)
        assert processed.last_error == "Order 5741329006917: transactions.json did not return a list."


def test_processing_locks_the_event_row_not_its_connection(world):
    """A worker's lock on the connection row made every webhook of that connection wait at commit
    (the new event's foreign-key check) until the worker's transaction ended."""
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        event = _store(conn, "orders/create", fixture_bytes("shopify", "orders_create.json"))
        with CaptureQueriesContext(db) as queries:
            assert event_process(event_id=event.pk).status == "processed"
    locking = [query["sql"] for query in queries.captured_queries if "FOR UPDATE" in query["sql"]]
    event_locks = [sql for sql in locking if 'FROM "connectors_inboundevent"' in sql]
    assert event_locks
    assert all(sql.rstrip().endswith('FOR UPDATE OF "connectors_inboundevent"') for sql in event_locks)
