"""Reliability with committed data and a real Celery worker: webhook storms, a broker that is down
while webhooks arrive, and a sync worker that dies mid-page (DESIGN.md §6)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid

import httpx
import pytest
import respx
from django.db import connection as db
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order, Refund
from connectors import inbox, sync, tasks
from connectors.models import InboundEvent, SyncRun
from connectors.services import connection_create
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from tenants import services as tenant_services
from tests.conftest import tenant_delete_settled
from tests.connectors.helpers import fixture, shopify_headers

SECRET = "storm-secret"


@pytest.fixture
def committed_tenant(django_db_blocker):
    """A fresh tenant with a Shopify connection, committed (the worker sees only committed rows)."""
    from tests.conftest import _WORLD

    slug = f"rel{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=f"Reliability {slug}").tenant
        with tenant_context(tenant):
            standard_chart_apply()
            conn = connection_create(
                vendor="shopify",
                name="Storm shop",
                config={"shop_domain": "acme-outfitters.myshopify.com"},
                credentials={"access_token": "shpat_storm"},
                webhook_secret=SECRET,
            )
        db.set_schema_to_public()
    yield tenant, conn, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        tenant_delete_settled(tenant)


def _orders(count: int) -> list[bytes]:
    bodies = []
    for index in range(count):
        order = fixture("shopify", "orders_create.json")
        order["id"] = 6_000_000_000_000 + index
        order["name"] = f"#{5000 + index}"
        bodies.append(json.dumps(order).encode())
    return bodies


def _wait(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.worker
def test_a_storm_of_ten_concurrent_copies_yields_one_order_and_one_journal_each(celery_worker, committed_tenant):
    tenant, conn, blocker = committed_tenant
    with blocker.unblock():
        host = tenant.domains.get(is_primary=True).domain
    bodies = _orders(5)
    deliveries = [body for body in bodies for _ in range(10)]
    random.Random(7).shuffle(deliveries)
    statuses: list[int] = []

    def deliver(chunk: list[bytes]) -> None:
        client = Client(HTTP_HOST=host)
        with blocker.unblock():
            try:
                for body in chunk:
                    response = client.post(
                        f"/hooks/shopify/{conn.pk}/",
                        data=body,
                        content_type="application/json",
                        **shopify_headers(body, SECRET, "orders/create"),
                    )
                    statuses.append(response.status_code)
            finally:
                db.close()

    threads = [threading.Thread(target=deliver, args=(deliveries[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 50

    def done() -> bool:
        with blocker.unblock(), tenant_context(tenant):
            return InboundEvent.objects.exclude(status="processed").count() == 0 and JournalEntry.objects.count() == 5

    _wait(done)
    with blocker.unblock(), tenant_context(tenant):
        assert InboundEvent.objects.count() == 5
        assert Order.objects.count() == 5
        assert sorted(JournalEntry.objects.values_list("source_key", flat=True)) == sorted(
            f"order:{pk}:v1757686445000" for pk in Order.objects.values_list("pk", flat=True)
        )
        db.set_schema_to_public()


@pytest.mark.worker
def test_webhooks_arriving_while_the_broker_is_down_are_processed_once_it_is_back(
    celery_worker, committed_tenant, monkeypatch
):
    tenant, conn, blocker = committed_tenant
    with blocker.unblock():
        host = tenant.domains.get(is_primary=True).domain
    real_apply_async = tasks.process_inbound_event.apply_async

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.process_inbound_event, "apply_async", broker_down)
    monkeypatch.setattr(tasks.ingest_batch, "apply_async", broker_down)  # the webhook's wake-up of the batch
    client = Client(HTTP_HOST=host)
    with blocker.unblock():
        for body in _orders(3):
            response = client.post(
                f"/hooks/shopify/{conn.pk}/",
                data=body,
                content_type="application/json",
                **shopify_headers(body, SECRET, "orders/create"),
            )
            assert response.status_code == 200  # acknowledged: the event is stored
        with tenant_context(tenant):
            assert sorted(InboundEvent.objects.values_list("status", flat=True)) == ["received"] * 3
            InboundEvent.objects.update(received_at=timezone.now() - inbox.SWEEP_AFTER * 2)
        monkeypatch.setattr(tasks.process_inbound_event, "apply_async", real_apply_async)
        with tenant_context(tenant):
            assert inbox.events_sweep() == 3  # the per-minute sweeper, now that the broker is back
        db.set_schema_to_public()

    def done() -> bool:
        with blocker.unblock(), tenant_context(tenant):
            return Order.objects.count() == 3 and JournalEntry.objects.count() == 3

    _wait(done)


SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"


@respx.mock
def test_a_worker_killed_mid_page_loses_nothing_and_the_run_resumes_from_its_cursor(world, monkeypatch):
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    monkeypatch.setattr(sync, "_dispatch", lambda *args, **kwargs: None)
    pages = [[json.loads(body) for body in _orders(6)[:3]], [json.loads(body) for body in _orders(6)[3:]]]
    next_url = f"{SHOP}/orders.json?limit=250&page_info=p2"
    respx.get(f"{SHOP}/orders.json").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={"orders": pages[1] if "page_info" in str(request.url) else pages[0]},
            headers={} if "page_info" in str(request.url) else {"Link": f'<{next_url}>; rel="next"'},
        )
    )
    respx.get(f"{SHOP}/shopify_payments/payouts.json").mock(return_value=httpx.Response(200, json={"payouts": []}))
    real_process = sync.event_process
    processed = {"count": 0}

    class WorkerKilled(BaseException):
        """Stands for SIGKILL: nothing after it runs, the open transaction is rolled back."""

    def dies_on_the_second(*, event_id):
        processed["count"] += 1
        if processed["count"] == 2:
            raise WorkerKilled
        return real_process(event_id=event_id)

    with tenant_context(world.acme):
        standard_chart_apply()
        conn = connection_create(
            vendor="shopify",
            name="Shop",
            config={"shop_domain": "acme-outfitters.myshopify.com"},
            credentials={"access_token": "shpat_x"},
        )
        run = sync.sync_run_start(connection=conn)
        sync.sync_run_step(run_id=run.pk, step=0)
        monkeypatch.setattr(sync, "event_process", dies_on_the_second)
        with pytest.raises(WorkerKilled):
            sync.sync_run_step(run_id=run.pk, step=1)
        monkeypatch.setattr(sync, "event_process", real_process)
        mid = SyncRun.objects.get(pk=run.pk)
        assert (mid.pages, mid.records, mid.cursor["step"], Order.objects.count()) == (1, 3, 1, 3)
        assert InboundEvent.objects.count() == 3  # the half-done page left nothing behind
        SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - sync.STALLED_AFTER * 2)
        sent = []
        monkeypatch.setattr(sync, "_dispatch", lambda run_id, *, queue, step, countdown=0: sent.append((run_id, step)))
        assert sync.sync_runs_resume_stalled() == 1
        assert sent == [(run.pk, 1)]
        sync.sync_run_step(run_id=run.pk, step=1)
        done = sync.sync_run_step(run_id=run.pk, step=2)
        assert (done.status, done.pages, done.records, done.created) == ("succeeded", 3, 6, 6)
        assert (Order.objects.count(), JournalEntry.objects.count(), Refund.objects.count()) == (6, 6, 0)
