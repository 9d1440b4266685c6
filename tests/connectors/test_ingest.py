"""The batched ingest (connectors/ingest.py, issue 17): claim, read, normalise, apply in one
transaction, with set-based writes of new orders and a per-event path for everything else."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import DiscountAllocation, Order, OrderLine, Payment, Reservation, ShippingLine, TaxLine
from connectors import inbox, ingest
from connectors.inbox import event_process, event_store
from connectors.ingest import events_ingest_batch
from connectors.models import InboundEvent
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, JournalLine
from posting.selectors import entry_balance
from tenants import services as tenant_services
from tests.conftest import tenant_delete_settled
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture, fixture_bytes
from triage.models import Exception as TriageException


def _bodies(count: int, *, start: int = 0) -> list[tuple[str, bytes]]:
    """`count` copies of the real Shopify order (two lines, taxes, a discount, shipping), renumbered."""
    bodies = []
    for index in range(start, start + count):
        order = fixture("shopify", "orders_create.json")
        order["id"] = 7_000_000_000_000 + index
        order["name"] = f"#{9000 + index}"
        bodies.append((str(order["id"]), json.dumps(order).encode()))
    return bodies


def _store_all(conn, bodies, topic: str = "orders/create") -> list[InboundEvent]:
    return [
        event_store(connection=conn, topic=topic, external_id=external_id, body=body, dispatch=False)[0]
        for external_id, body in bodies
    ]


def _statuses() -> Counter:
    return Counter(InboundEvent.objects.values_list("status", flat=True))


def _rows(order: Order) -> dict:
    """Every row `order_upsert` writes for an order, without ids that differ between two writes."""
    return {
        "order": Order.objects.filter(pk=order.pk).values(
            "source", "external_id", "source_version", "currency", "channel", "store", "placed_at", "paid_at"
        )[0],
        "lines": list(
            OrderLine.objects.filter(order=order).values_list(
                "position", "external_id", "sku", "quantity", "unit_price", "gross", "discount_total", "net"
            )
        ),
        "taxes": list(
            TaxLine.objects.filter(order=order)
            .order_by("position")
            .values_list("position", "order_line__external_id", "shipping_line__external_id", "jurisdiction", "amount")
        ),
        "shipping": list(ShippingLine.objects.filter(order=order).values_list("position", "external_id", "amount")),
        "discounts": list(
            DiscountAllocation.objects.filter(order=order).values_list(
                "position", "order_line__external_id", "code", "funding", "amount"
            )
        ),
        "payments": list(Payment.objects.filter(order=order).values_list("position", "gateway", "amount", "fee")),
        "reservations": list(
            Reservation.objects.filter(order_line__order=order)
            .order_by("sku")
            .values_list("sku", "quantity", "released_at")
        ),
        "journal": sorted(
            JournalLine.objects.filter(entry__source_key__startswith=f"order:{order.pk}:").values_list(
                "role", "account__code", "debit", "credit"
            )
        ),
    }


def test_a_batch_writes_exactly_the_rows_the_per_event_path_writes(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        one, two = _store_all(conn, _bodies(2))
        event_process(event_id=one.pk)
        InboundEvent.objects.filter(pk=one.pk).update(status="ignored")  # out of the next batch
        result = events_ingest_batch()
        assert (result.claimed, result.processed, result.set_based, result.fell_back) == (1, 1, 1, False)
        by_event = Order.objects.get(raw_event_id=one.pk)
        by_batch = Order.objects.get(raw_event_id=two.pk)
        expected, written = _rows(by_event), _rows(by_batch)
        expected["order"]["external_id"] = written["order"]["external_id"]
        assert written == expected
        two.refresh_from_db()
        entry = JournalEntry.objects.get(source_key=f"order:{by_batch.pk}:v{by_batch.source_version}")
        assert (two.status, two.attempts, two.processed_at is not None) == ("processed", 1, True)
        assert two.result == {
            "documents": [
                {
                    "type": "order",
                    "external_id": by_batch.external_id,
                    "id": by_batch.pk,
                    "posting": "posted",
                    "journal_id": entry.pk,
                    "outcome": "created",
                }
            ]
        }


def test_the_same_batch_twice_posts_nothing_twice(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        _store_all(conn, _bodies(20))
        assert events_ingest_batch().processed == 20
        InboundEvent.objects.update(status="received")  # delivered again, e.g. replayed
        again = events_ingest_batch()
        assert (again.claimed, again.processed, again.set_based) == (20, 20, 0)
        assert (Order.objects.count(), JournalEntry.objects.count()) == (20, 20)
        assert {
            tuple(e.result["documents"][0][k] for k in ("outcome", "posting")) for e in InboundEvent.objects.all()
        } == {("unchanged", "already_posted")}
        assert all(entry_balance(entry=entry) == 0 for entry in JournalEntry.objects.all())


def test_a_duplicated_order_in_one_batch_applies_in_the_order_received(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        newer = event_store(
            connection=conn,
            topic="orders/updated",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_updated_fulfilled.json"),
            dispatch=False,
        )[0]
        older = event_store(
            connection=conn,
            topic="orders/create",
            external_id="5741329006917",
            body=fixture_bytes("shopify", "orders_create.json"),
            dispatch=False,
        )[0]
        result = events_ingest_batch()
        assert (result.claimed, result.processed, result.set_based) == (2, 2, 1)
        order = Order.objects.get()
        assert (order.source_version, order.raw_event_id) == (1757764931000, newer.pk)
        older.refresh_from_db()
        assert older.result["documents"][0]["outcome"] == "ignored_stale"
        assert JournalEntry.objects.count() == 1


def test_a_refund_in_the_same_batch_as_its_order_applies_after_it(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        refund_body = fixture_bytes("shopify", "refunds_create.json")
        _order, refund = (
            event_store(connection=conn, topic=topic, external_id=external_id, body=body, dispatch=False)[0]
            for topic, external_id, body in (
                ("orders/create", "5741329006917", fixture_bytes("shopify", "orders_create.json")),
                ("refunds/create", str(json.loads(refund_body)["id"]), refund_body),
            )
        )
        result = events_ingest_batch()
        assert (result.processed, result.failed, result.set_based) == (2, 0, 1)
        refund.refresh_from_db()
        assert (refund.status, refund.attempts, refund.result["documents"][0]["posting"]) == ("processed", 1, "posted")
        assert JournalEntry.objects.count() == 2


def test_one_bad_event_is_dead_lettered_alone_while_the_others_post(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        bodies = _bodies(100)
        broken = json.loads(bodies[37][1])
        broken["currency"] = "US"
        bodies[37] = (bodies[37][0], json.dumps(broken).encode())
        events = _store_all(conn, bodies)
        result = events_ingest_batch(limit=100)
        assert (result.claimed, result.processed, result.failed, result.set_based) == (100, 99, 1, 99)
        assert _statuses() == Counter({"processed": 99, "dead": 1})
        dead = InboundEvent.objects.get(status="dead")
        assert (dead.pk, dead.attempts) == (events[37].pk, 1)
        assert dead.last_error == "currency: 'US' is not a currency code."
        problem = TriageException.objects.get()
        assert (problem.kind, problem.context["event_id"]) == ("normalise", dead.pk)
        assert (Order.objects.count(), JournalEntry.objects.count()) == (99, 99)


def test_a_batch_with_an_unmapped_account_raises_the_exception_and_posts_nothing(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        Account.objects.filter(code="4100").update(active=False)  # shipping income
        conn = ConnectionFactory()
        _store_all(conn, _bodies(5))
        result = events_ingest_batch()
        assert (result.processed, result.set_based) == (5, 5)
        assert _statuses() == Counter({"processed": 5})
        assert {e.result["documents"][0]["posting"] for e in InboundEvent.objects.all()} == {"refused"}
        assert JournalEntry.objects.count() == 0
        problem = TriageException.objects.get()
        assert (problem.cause, problem.status) == ("unmapped", "open")
        assert problem.occurrences.count() == 5


def test_journals_of_a_batch_balance(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        _store_all(conn, _bodies(10))
        events_ingest_batch()
        entries = list(JournalEntry.objects.all())
        assert len(entries) == 10
        assert [entry_balance(entry=entry) for entry in entries] == [0] * 10
        assert {sum(line.debit for line in entry.lines.all()) for entry in entries} == {D("188.7700")}


def test_a_failure_of_the_set_based_way_falls_back_to_one_event_at_a_time(world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("bulk insert refused")

    monkeypatch.setattr(ingest, "orders_create_bulk", broken)
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        _store_all(conn, _bodies(5))
        result = events_ingest_batch()
        assert (result.processed, result.set_based, result.fell_back) == (5, 0, True)
        assert (Order.objects.count(), JournalEntry.objects.count()) == (5, 5)


def test_a_suspended_tenant_claims_nothing_and_a_paused_connection_keeps_its_events(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        paused = ConnectionFactory(status="paused")
        live = ConnectionFactory()
        _store_all(paused, _bodies(2))
        _store_all(live, _bodies(3, start=10))
        result = events_ingest_batch()
        assert (result.claimed, result.processed) == (3, 3)
        assert set(InboundEvent.objects.filter(connection=paused).values_list("status", flat=True)) == {"received"}


def test_a_storm_of_webhooks_wakes_one_batch_task(world, monkeypatch):
    from django_redis import get_redis_connection

    sent = []
    monkeypatch.setattr(inbox, "task_named", lambda name: SimpleNamespace(apply_async=lambda **k: sent.append(name)))
    with tenant_context(world.acme):
        get_redis_connection("default").delete(inbox._ingest_wake_key())
        for _ in range(10):
            inbox.ingest_wake()
        assert sent == ["connectors.ingest_batch"]
        inbox.ingest_wake_clear()  # a batch started: the next webhook wakes another
        inbox.ingest_wake()
        assert sent == ["connectors.ingest_batch"] * 2
        inbox.ingest_wake_clear()


# ---- with committed data: the query budget and a worker killed mid-batch ----------------------------


@pytest.fixture
def committed_tenant(django_db_setup, django_db_blocker):
    """A committed tenant with a Shopify connection (tests/connectors/test_reliability.py), so the
    batch runs outside any transaction as in a worker."""
    from tests.conftest import _WORLD

    slug = f"ing{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=f"Ingest {slug}").tenant
        with tenant_context(tenant):
            standard_chart_apply()
            conn = ConnectionFactory()
        db.set_schema_to_public()
    yield tenant, conn, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        tenant_delete_settled(tenant)


def _per_order(captured, orders: int) -> tuple[float, float]:
    sets = sum(1 for query in captured if query["sql"].startswith("SET search_path"))
    return len(captured) / orders, sets / orders


def _batch_of_100(tenant, conn, monkeypatch) -> tuple[list, list]:
    """Store 120 orders, ingest 100 of them in one batch; (the batch's queries, those of its posting)."""
    _store_all(conn, _bodies(120))
    later = list(InboundEvent.objects.order_by("pk").values_list("pk", flat=True)[100:])
    InboundEvent.objects.filter(pk__in=later).update(status="ignored")  # kept for the per-event figure
    real_post, posting_queries = ingest.journals_post_orders, []

    def measured(items):
        with CaptureQueriesContext(db) as posting:
            outcomes = real_post(items)
        posting_queries.extend(posting.captured_queries)
        return outcomes

    monkeypatch.setattr(ingest, "journals_post_orders", measured)
    with CaptureQueriesContext(db) as batch:
        result = events_ingest_batch(limit=100)
    assert (result.claimed, result.processed, result.set_based) == (100, 100, 100)
    return batch.captured_queries, posting_queries


def test_a_batch_of_100_orders_sets_the_schema_once_and_writes_them_in_a_few_queries(committed_tenant, monkeypatch):
    tenant, conn, blocker = committed_tenant
    with blocker.unblock(), tenant_context(tenant):
        batch, posting = _batch_of_100(tenant, conn, monkeypatch)
        InboundEvent.objects.filter(status="ignored").update(status="received")
        one_by_one = list(InboundEvent.objects.filter(status="received").values_list("pk", flat=True))
        with CaptureQueriesContext(db) as single:
            for event_id in one_by_one:
                assert event_process(event_id=event_id).status == "processed"
        print(  # the figures for the before/after table (pytest -s)
            "queries per order (all, SET search_path): one event at a time {:.1f}, {:.1f}; batch of 100 {:.1f}, "
            "{:.1f}, of which posting {:.1f}".format(
                *_per_order(single.captured_queries, 20), *_per_order(batch, 100), len(posting) / 100
            )
        )
        assert [query["sql"] for query in batch if query["sql"].startswith("SET search_path")] == [
            f'SET search_path = "{tenant.schema_name}","public"'
        ]
        # Claim, read, lock, write 100 orders with every child row, mark them: all but posting (the
        # promotions' funding check is still one query per order with a discount).
        assert len(batch) - len(posting) <= 2 * 100
        assert (Order.objects.count(), JournalEntry.objects.count()) == (120, 120)
        db.set_schema_to_public()


def test_a_batch_of_100_orders_takes_at_most_12_queries_per_order(committed_tenant, monkeypatch):
    tenant, conn, blocker = committed_tenant
    with blocker.unblock(), tenant_context(tenant):
        try:
            batch, _posting = _batch_of_100(tenant, conn, monkeypatch)
        finally:
            db.set_schema_to_public()
    assert len(batch) <= 1200


_KILLED_WORKER = """
import os, sys, time, django
django.setup()
from django_tenants.utils import tenant_context
from connectors import ingest, tasks
from tenants.models import Tenant

real = ingest.journals_post_orders

def stalls(items):
    outcomes = real(items)  # the orders and journals are written, the transaction is still open
    open(sys.argv[2], "w").close()
    time.sleep(120)
    return outcomes

ingest.journals_post_orders = stalls
with tenant_context(Tenant.objects.get(schema_name=sys.argv[1])):  # as tenant-schemas-celery runs a task
    tasks.ingest_batch()
"""


def test_a_worker_killed_mid_batch_loses_nothing_and_posts_nothing_twice(
    committed_tenant,
    tmp_path,
    monkeypatch,
):
    from tests.conftest import BASE_DIR, _database_url

    tenant, conn, blocker = committed_tenant
    with blocker.unblock(), tenant_context(tenant):
        _store_all(conn, _bodies(30))
    marker = tmp_path / "mid-batch"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"}
    env["DATABASE_URL"] = _database_url(settings.DATABASES["default"])
    worker = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WORKER, tenant.schema_name, str(marker)], cwd=BASE_DIR, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never reached mid-batch"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    with blocker.unblock(), tenant_context(tenant):
        assert _statuses() == Counter({"processing": 30})  # claimed, nothing applied (rolled back)
        assert (Order.objects.count(), JournalEntry.objects.count()) == (0, 0)
        assert events_ingest_batch().claimed == 0  # a claimed event is the sweeper's, not a new batch's
        InboundEvent.objects.update(received_at=timezone.now() - inbox.SWEEP_AFTER * 2)
        swept: list[int] = []
        monkeypatch.setattr(inbox, "_dispatch", swept.append)
        assert inbox.events_sweep() == 30
        for event_id in swept:
            event_process(event_id=event_id)
        for event_id in swept:  # delivered twice (a duplicate task): nothing more
            event_process(event_id=event_id)
        assert _statuses() == Counter({"processed": 30})
        assert set(InboundEvent.objects.values_list("attempts", flat=True)) == {1}
        orders = list(Order.objects.values_list("pk", "source_version"))
        assert len(orders) == 30
        assert sorted(JournalEntry.objects.values_list("source_key", flat=True)) == sorted(
            f"order:{pk}:v{version}" for pk, version in orders
        )
        db.set_schema_to_public()
