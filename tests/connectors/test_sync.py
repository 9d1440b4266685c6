import datetime as dt

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from commerce.models import Order
from connectors import sync
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.sync import sync_run_start, sync_run_step, sync_runs_resume_stalled, sync_runs_start_due
from mappings.services import standard_chart_apply
from posting.models import JournalEntry
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture

SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"


@pytest.fixture
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr(
        sync, "_dispatch", lambda run_id, *, queue, step, countdown=0: sent.append((run_id, queue, step))
    )
    return sent


@pytest.fixture
def free_slots():
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()


def _orders(*orders):
    return {"orders": list(orders)}


def _two_orders():
    first = fixture("shopify", "orders_create.json")
    second = fixture("shopify", "orders_create_taxes_included_gbp.json")
    second.update(currency="USD", presentment_currency="USD", id=5741330710999, updated_at="2025-09-12T11:00:00-04:00")
    second["payment_gateway_names"] = ["shopify_payments"]  # paging is the point here, not the gift-card split
    for item in second["line_items"] + second["shipping_lines"]:
        for money_set in [item["price_set"]] + [t["price_set"] for t in item["tax_lines"]]:
            money_set["shop_money"]["currency_code"] = "USD"
    second["total_price_set"]["shop_money"]["currency_code"] = "USD"
    return first, second


@respx.mock
def test_a_run_pages_orders_then_payouts_saving_the_cursor_after_each_page(
    world, dispatched, free_slots, django_capture_on_commit_callbacks
):
    first, second = _two_orders()
    next_url = f"{SHOP}/orders.json?limit=250&page_info=eyJsYXN0X2lkIjo1NzQxMzI5MDA2OTE3fQ"
    orders = respx.get(f"{SHOP}/orders.json").mock(
        side_effect=[
            httpx.Response(200, json=_orders(first), headers={"Link": f'<{next_url}>; rel="next"'}),
            httpx.Response(200, json=_orders(second)),
        ]
    )
    respx.get(f"{SHOP}/shopify_payments/payouts.json").mock(return_value=httpx.Response(200, json={"payouts": []}))
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        assert dispatched == [(run.pk, None, 0)]
        with django_capture_on_commit_callbacks(execute=True):
            run = sync_run_step(run_id=run.pk, step=0)
        assert (run.status, run.pages, run.records, run.created) == ("running", 1, 1, 1)
        assert run.cursor == {
            "topic_index": 0,
            "step": 1,
            "topic": {"updated_at_min": None, "newest": "2025-09-12T10:14:05-04:00", "next": next_url},
        }
        assert dispatched[-1] == (run.pk, None, 1)
        assert sync_run_step(run_id=run.pk, step=0).pages == 1  # a stale copy of step 0 does nothing
        run = sync_run_step(run_id=run.pk, step=1)
        assert run.cursor["topic_index"] == 1
        run = sync_run_step(run_id=run.pk, step=2)
        assert (run.status, run.pages, run.records, run.created, run.failed) == ("succeeded", 3, 2, 2, 0)
        assert orders.calls[1].request.url == next_url
        assert orders.calls[0].request.url.params["status"] == "any"
        conn.refresh_from_db()
        assert conn.cursor["orders"] == {"updated_at_min": "2025-09-12T11:00:00-04:00"}
        assert conn.last_success_at == run.finished_at
        assert Order.objects.count() == 2
        assert JournalEntry.objects.count() == 2
        assert set(InboundEvent.objects.values_list("source", "sync_run_id")) == {("poll", run.pk)}


@respx.mock
def test_the_next_incremental_run_starts_from_the_saved_watermark_and_skips_unchanged(world, dispatched, free_slots):
    first, _ = _two_orders()
    route = respx.get(f"{SHOP}/orders.json").mock(return_value=httpx.Response(200, json=_orders(first)))
    respx.get(f"{SHOP}/shopify_payments/payouts.json").mock(return_value=httpx.Response(200, json={"payouts": []}))
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory()
        for _ in range(2):
            run = sync_run_start(connection=conn, kind=SyncRun.Kind.INCREMENTAL)
            sync_run_step(run_id=run.pk, step=0)
            run = sync_run_step(run_id=run.pk, step=1)
        assert (run.status, run.records, run.created, run.skipped) == ("succeeded", 1, 0, 1)
        assert route.calls[1].request.url.params["updated_at_min"] == "2025-09-12T10:14:05-04:00"


@respx.mock
def test_vendor_failure_fails_the_run_and_auth_failure_puts_the_connection_in_error(
    world, dispatched, free_slots, monkeypatch
):
    from core.http import client as http

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    respx.get(f"{SHOP}/orders.json").mock(return_value=httpx.Response(401, json={"errors": "Invalid API key"}))
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        run = sync_run_step(run_id=run.pk, step=0)
        assert run.status == "failed"
        assert run.error == f"GET {SHOP}/orders.json was refused: HTTP 401 (check or reconnect the credentials)."
        conn.refresh_from_db()
        assert (conn.status, conn.last_message) == ("error", run.error[:500])
        from triage.models import Exception as TriageException

        exception = TriageException.objects.get(cause="auth")
        assert (exception.kind, exception.retry_name) == ("sync", "connectors.sync")


def test_one_active_run_per_connection_and_backfill_needs_a_date(world, dispatched):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        assert sync_run_start(connection=conn, kind=SyncRun.Kind.INCREMENTAL).pk == run.pk
        other = ConnectionFactory()
        with pytest.raises(ValidationError):
            sync_run_start(connection=other, kind=SyncRun.Kind.BACKFILL)
        backfill = sync_run_start(
            connection=other, kind=SyncRun.Kind.BACKFILL, since=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        )
        assert backfill.cursor == {"topic_index": 0, "topic": {}}


def test_backfills_go_to_their_own_queue(world, django_capture_on_commit_callbacks, monkeypatch):
    from connectors import tasks

    sent = []
    monkeypatch.setattr(tasks.sync_run_step, "apply_async", lambda **options: sent.append(options))
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            run = sync_run_start(
                connection=conn, kind=SyncRun.Kind.BACKFILL, since=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
            )
    assert sent == [{"kwargs": {"run_id": run.pk, "step": 0}, "countdown": 0, "retry": False, "queue": "backfill"}]


def test_due_connections_get_a_run_and_paused_ones_do_not(world, dispatched):
    with tenant_context(world.acme):
        due = ConnectionFactory(next_sync_at=timezone.now() - dt.timedelta(minutes=1))
        ConnectionFactory(next_sync_at=timezone.now() + dt.timedelta(minutes=5))
        ConnectionFactory(status=Connection.Status.PAUSED, next_sync_at=None)
        runs = sync_runs_start_due()
        assert [run.connection_id for run in runs] == [due.pk]
        due.refresh_from_db()
        assert due.next_sync_at > timezone.now() + dt.timedelta(minutes=14)


def test_stalled_runs_are_sent_again_at_their_current_step(world, dispatched):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        SyncRun.objects.filter(pk=run.pk).update(
            status="running",
            heartbeat_at=timezone.now() - dt.timedelta(minutes=10),
            cursor={"topic_index": 0, "topic": {"next": "x"}, "step": 4},
        )
        dispatched.clear()
        assert sync_runs_resume_stalled() == 1
        assert dispatched == [(run.pk, None, 4)]


def test_a_paused_connection_cancels_its_run(world, dispatched, free_slots):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        Connection.objects.filter(pk=conn.pk).update(status="paused")
        run = sync_run_step(run_id=run.pk, step=0)
        assert (run.status, run.error) == ("cancelled", "The connection is paused.")


def test_a_tenant_over_its_concurrency_cap_requeues_the_step(world, dispatched, free_slots, settings):
    settings.CONNECTOR_TENANT_SYNC_CONCURRENCY = 1
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        holder = sync._Slot()
        assert holder.acquire()
        dispatched.clear()
        assert sync_run_step(run_id=run.pk, step=0).status == "queued"
        assert dispatched == [(run.pk, None, 0)]
        holder.release()
    with tenant_context(world.bluebird):
        assert sync._Slot().acquire()  # another tenant's slots are its own


@respx.mock
def test_a_failed_run_is_announced_to_the_partners_webhook_subscribers(
    world, dispatched, free_slots, monkeypatch, django_capture_on_commit_callbacks
):
    from core.http import client as http
    from tenants import webhooks
    from tenants.models import WebhookDelivery

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    hook = webhooks.webhook_subscription_create(
        partner=world.northwind, url="https://93.184.216.34/hook", events=["sync.failed"], actor=None
    )
    respx.get(f"{SHOP}/orders.json").mock(return_value=httpx.Response(401, json={"errors": "Invalid API key"}))
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        with django_capture_on_commit_callbacks(execute=True):
            sync_run_step(run_id=run.pk, step=0)
    [delivery] = WebhookDelivery.objects.filter(subscription=hook)
    data = delivery.payload["data"]
    assert (delivery.event, data["tenant"], data["cause"]) == ("sync.failed", "acme", "auth")
    assert data["connection"] == {"id": conn.pk, "vendor": "shopify", "name": conn.name}
    assert data["sync_run"]["id"] == run.pk
