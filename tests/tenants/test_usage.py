"""Usage metering: atomic increments, partner-level rows, the month table and its CSV page."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.test import TestCase
from django.utils import timezone
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context

from tenants import usage
from tenants.models import UsageFlush, UsageRecord
from tenants.usage import (
    USAGE_FLUSHING_PREFIX,
    USAGE_FLUSHING_SET,
    USAGE_PENDING_KEY,
    usage_count,
    usage_flush,
    usage_increment,
    usage_month_table,
)
from tests.conftest import usage_counters_clear

DAY = date(2026, 3, 14)


def test_increments_add_up_on_one_row(world):
    usage_increment(metric="orders_ingested", tenant=world.acme, day=DAY)
    usage_increment(metric="orders_ingested", tenant=world.acme, day=DAY, amount=41)
    [record] = UsageRecord.objects.filter(tenant=world.acme, day=DAY)
    assert (record.partner, record.metric, record.count) == (world.northwind, "orders_ingested", 42)


def test_partner_level_rows_with_null_tenant_are_unique_too(world):
    usage_increment(metric="api_calls", partner=world.northwind, day=DAY)
    usage_increment(metric="api_calls", partner=world.northwind, day=DAY)
    assert list(
        UsageRecord.objects.filter(partner=world.northwind, tenant=None, day=DAY).values_list("count", flat=True)
    ) == [2]


def _today(tenant, metric: str = "webhook_events") -> int:
    return sum(
        UsageRecord.objects.filter(tenant=tenant, day=timezone.now().date(), metric=metric).values_list(
            "count", flat=True
        )
    )


def _count_committed(tenant, amount: int = 1, metric: str = "webhook_events") -> None:
    with tenant_context(tenant), TestCase.captureOnCommitCallbacks(execute=True):
        usage_count(metric=metric, amount=amount)


def _flushing_keys() -> list[bytes]:
    return list(get_redis_connection("default").scan_iter(match=f"{USAGE_FLUSHING_PREFIX}*"))


def test_counts_wait_in_redis_until_the_flush_and_tenants_stay_apart(world):
    usage_counters_clear()
    _count_committed(world.acme, amount=2)
    _count_committed(world.acme)
    _count_committed(world.cedar, amount=5)
    assert (_today(world.acme), _today(world.cedar)) == (0, 0)  # nothing written on the hot path
    assert usage_flush() == 2
    assert (_today(world.acme), _today(world.cedar)) == (3, 5)
    assert UsageRecord.objects.get(tenant=world.cedar, metric="webhook_events", day=timezone.now().date()).partner == (
        world.southpaw
    )
    assert usage_flush() == 0  # nothing pending: nothing added twice
    assert (_today(world.acme), _today(world.cedar), _flushing_keys()) == (3, 5, [])


def test_a_rolled_back_transaction_counts_nothing(world):
    usage_counters_clear()
    callbacks = TestCase.captureOnCommitCallbacks(execute=True)
    with tenant_context(world.acme), callbacks, pytest.raises(RuntimeError), transaction.atomic():
        usage_count(metric="webhook_events")
        raise RuntimeError("the ack failed after counting")
    assert not get_redis_connection("default").exists(USAGE_PENDING_KEY)
    usage_flush()
    assert _today(world.acme) == 0


def test_a_crash_between_the_commit_and_the_del_counts_once(world, monkeypatch):
    usage_counters_clear()
    _count_committed(world.acme, amount=4)

    def crash(redis, key):
        raise ConnectionError("killed before DEL")

    monkeypatch.setattr(usage, "_flushing_done", crash)
    with pytest.raises(ConnectionError):
        usage_flush()
    assert _today(world.acme) == 4 and len(_flushing_keys()) == 1  # committed, key left over
    _count_committed(world.acme)  # counted meanwhile: a new pending hash
    monkeypatch.undo()
    assert usage_flush() == 1  # only the new count; the leftover is recognised and deleted
    assert _today(world.acme) == 5 and _flushing_keys() == []


def test_a_crash_before_the_commit_is_flushed_by_the_next_run(world, monkeypatch):
    usage_counters_clear()
    _count_committed(world.bluebird, amount=7)
    upsert = usage._rows_upsert

    def crash(rows):
        upsert(rows)
        raise ConnectionError("killed before COMMIT")

    monkeypatch.setattr(usage, "_rows_upsert", crash)
    flushes = UsageFlush.objects.count()
    with pytest.raises(ConnectionError):
        usage_flush()
    assert (_today(world.bluebird), UsageFlush.objects.count()) == (0, flushes)  # rolled back whole
    monkeypatch.undo()
    assert usage_flush() == 1
    assert _today(world.bluebird) == 7 and _flushing_keys() == []


def test_a_crash_after_the_rename_leaves_a_listed_key_the_next_run_applies(world, monkeypatch):
    usage_counters_clear()
    _count_committed(world.acme, amount=6)

    def crash(redis, key):
        raise ConnectionError("killed after RENAME")

    monkeypatch.setattr(usage, "_flushing_apply", crash)
    with pytest.raises(ConnectionError):
        usage_flush()
    redis = get_redis_connection("default")
    [leftover] = _flushing_keys()
    assert (_today(world.acme), redis.smembers(USAGE_FLUSHING_SET)) == (0, {leftover})
    monkeypatch.undo()
    assert usage_flush() == 1
    assert (_today(world.acme), _flushing_keys(), redis.smembers(USAGE_FLUSHING_SET)) == (6, [], set())


def test_a_listed_key_without_a_hash_is_dropped_without_a_flush_row(world):
    usage_counters_clear()
    redis = get_redis_connection("default")
    redis.sadd(USAGE_FLUSHING_SET, f"{USAGE_FLUSHING_PREFIX}gone")  # a crash before the SREM of an empty RENAME
    flushes = UsageFlush.objects.count()
    assert usage_flush() == 0
    assert (UsageFlush.objects.count(), redis.smembers(USAGE_FLUSHING_SET)) == (flushes, set())


def test_the_flush_reads_the_flushing_set_and_never_scans(world, monkeypatch):
    usage_counters_clear()
    _count_committed(world.cedar, amount=2)
    redis = get_redis_connection("default")

    def scan(*args, **kwargs):
        raise AssertionError("the flush scanned the cache database")

    monkeypatch.setattr(type(redis), "scan_iter", scan)
    assert usage_flush() == 1
    assert _today(world.cedar) == 2


def test_redis_down_at_commit_writes_the_row_directly(world, monkeypatch):
    def down(alias):
        raise ConnectionError("redis down")

    monkeypatch.setattr(usage, "get_redis_connection", down)
    _count_committed(world.cedar, amount=3, metric="sync_runs")
    assert _today(world.cedar, "sync_runs") == 3


def test_unknown_metric_is_refused(world):
    with pytest.raises(ValidationError):
        usage_increment(metric="coffees", tenant=world.acme)


def test_works_from_inside_a_tenant_schema(world):
    from django_tenants.utils import tenant_context

    with tenant_context(world.acme):
        usage_increment(metric="journals_posted", tenant=world.acme, day=DAY, amount=3)
    assert UsageRecord.objects.get(tenant=world.acme, day=DAY, metric="journals_posted").count == 3


def test_concurrent_increments_lose_nothing(world):
    """Eight threads on their own connections, committing: the upsert serialises on the row."""
    far_day = date(1999, 1, 1)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                usage_increment(metric="sync_runs", tenant=world.cedar, day=far_day)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert UsageRecord.objects.get(tenant=world.cedar, day=far_day, metric="sync_runs").count == 200
    finally:
        cleanup = threading.Thread(
            target=lambda: (UsageRecord.objects.filter(day=far_day).delete(), connections.close_all())
        )
        cleanup.start()
        cleanup.join()


def test_month_table_has_every_tenant_and_partner_calls(world):
    usage_increment(metric="orders_ingested", tenant=world.acme, day=DAY, amount=5)
    usage_increment(metric="api_calls", partner=world.northwind, day=DAY, amount=9)
    usage_increment(metric="orders_ingested", tenant=world.cedar, day=DAY, amount=100)
    rows = usage_month_table(partner=world.northwind, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert [(row.slug, row.counts["orders_ingested"], row.counts["api_calls"]) for row in rows] == [
        ("acme", 5, 0),
        ("bluebird", 0, 0),
        ("", 0, 9),
    ]


def test_usage_page_and_csv(world, host_client):
    usage_increment(metric="orders_ingested", tenant=world.acme, day=DAY, amount=1234)
    client = host_client("northwind.localhost", world.partner_admin)
    page = client.get("/usage/?month=2026-03")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Usage · March 2026" in body and "1,234" in body and "Cedar Home" not in body
    response = client.get("/usage/?month=2026-03&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "month",
        "tenant",
        "orders_ingested",
        "refunds_ingested",
        "journals_posted",
        "erp_pushes",
        "api_calls",
        "webhook_events",
        "sync_runs",
        "active_connections",
    ]
    assert rows[1] == ["2026-03", "acme", "1234", "0", "0", "0", "0", "0", "0", "0"]
    assert client.get("/usage/?month=garbage").status_code == 404
    assert (
        host_client("southpaw.localhost", world.other_partner_admin)
        .get("/usage/?month=2026-03")
        .content.count(b"1,234")
        == 0
    )
    assert host_client(world.host(world.acme), world.acme_admin).get("/usage/").status_code == 404


def _metered(tenant) -> dict[str, int]:
    rows = UsageRecord.objects.filter(tenant=tenant).values_list("metric", "count")
    return {metric: count for metric, count in rows if count}


def test_work_is_metered_once_where_it_happens_and_replays_count_nothing(world, host_client, usage_counted):
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from commerce.services import order_upsert
    from connectors.inbox import event_process
    from connectors.jobs import active_connections_meter
    from connectors.models import InboundEvent
    from mappings.services import standard_chart_apply
    from posting.erp.services import erp_push_entry
    from posting.models import JournalEntry
    from tests.commerce.factories import kwd_order
    from tests.connectors.factories import ConnectionFactory
    from tests.connectors.helpers import fixture_bytes, shopify_headers

    with usage_counted():  # the counts land on commit, then the flush writes them
        with tenant_context(world.acme):
            standard_chart_apply()
            shop = ConnectionFactory(secrets={"webhook_secret": "meter-secret"})
        body = fixture_bytes("shopify", "orders_create.json")
        client = host_client(world.host(world.acme))
        for _ in range(2):  # the vendor delivers the same webhook twice
            response = client.post(
                f"/hooks/shopify/{shop.pk}/",
                data=body,
                content_type="application/json",
                **shopify_headers(body, "meter-secret", "orders/create"),
            )
            assert response.status_code == 200
        with tenant_context(world.acme):
            event = InboundEvent.objects.get()
            for _ in range(2):  # processed, then replayed
                event_process(event_id=event.pk)
            entry = JournalEntry.objects.get()
            for _ in range(2):  # acknowledged, then pushed again
                erp_push_entry(entry=entry)
            for _ in range(2):  # the gauge is rewritten, not added to
                active_connections_meter()
            try:
                with transaction.atomic():  # an attempt that rolls back un-counts itself
                    order_upsert(source="shopify", connection_id=shop.pk, document=kwd_order(external_id="RB-1"))
                    raise RuntimeError("worker died")
            except RuntimeError:
                pass
    assert _metered(world.acme) == {
        "webhook_events": 1,
        "orders_ingested": 1,
        "journals_posted": 1,
        "erp_pushes": 1,
        "active_connections": 1,
    }
    assert _metered(world.bluebird) == {}


def test_partner_console_health_reads_the_metered_work(world, host_client, usage_counted):
    from django_tenants.utils import tenant_context

    from commerce.services import order_upsert
    from mappings.services import standard_chart_apply
    from posting.services import journal_post_order
    from tests.commerce.factories import kwd_order

    with tenant_context(world.bluebird), usage_counted():
        standard_chart_apply()
        for number in range(3):
            order = order_upsert(source="shopify", connection_id=1, document=kwd_order(external_id=f"C{number}")).obj
            journal_post_order(order=order)
    from tenants.selectors import partner_tenants_health

    health = {tenant.slug: tenant for tenant in partner_tenants_health(partner=world.northwind)}
    assert (health["bluebird"].orders_this_month, health["bluebird"].journals_this_month) == (3, 3)
    assert (health["acme"].orders_this_month, health["acme"].journals_this_month) == (0, 0)


def test_the_flush_is_a_public_beat_entry_every_minute(world):
    from portal.celery import app
    from tenants.tasks import usage_flush_task

    entries = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert entries["tenants.usage_flush"] == 60.0
    usage_counters_clear()
    _count_committed(world.acme, amount=2)
    assert usage_flush_task.apply().get() == 1
    assert _today(world.acme) == 2
