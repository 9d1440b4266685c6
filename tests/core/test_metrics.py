"""The business metrics move with the work: a real webhook through the test client, processed,
posted and pushed, read back from the registry /metrics serves (core/metrics.py)."""

import datetime as dt
import json

import httpx
import pytest
import respx
from django.conf import settings
from django_redis import get_redis_connection
from django_tenants.utils import tenant_context
from prometheus_client.core import REGISTRY

from connectors import inbox, sync
from connectors.inbox import event_process
from connectors.models import InboundEvent, SyncRun
from connectors.sync import sync_run_start, sync_run_step
from core import metrics
from core.http import client as http
from mappings.services import standard_chart_apply
from posting.erp import tasks as erp_tasks
from posting.erp.tasks import erp_push_journal
from posting.models import JournalEntry
from tenants import webhooks
from tenants.tasks import webhook_deliver
from tests.connectors.factories import ConnectionFactory
from tests.connectors.helpers import fixture_bytes, shopify_headers

SECRET = "shopify-app-secret-for-tests"
ORDER = {"vendor": "shopify", "topic": "orders/create"}
SHOP = "https://acme-outfitters.myshopify.com/admin/api/2025-07"


@pytest.fixture(autouse=True)
def _metrics_fresh(monkeypatch):
    """Start from empty metrics, and send no task to the broker (the test runs each step itself)."""
    redis = get_redis_connection("default")
    for key in redis.scan_iter(f"{metrics.KEY_PREFIX}*"):
        redis.delete(key)
    monkeypatch.setattr(inbox, "_dispatch", lambda event_id: None)
    monkeypatch.setattr(erp_tasks, "_send", lambda entry_id, force: None)
    monkeypatch.setattr(sync, "_dispatch", lambda run_id, *, queue, step, countdown=0: None)
    monkeypatch.setattr(http, "sleep", lambda seconds: None)


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _post(client, conn, body: bytes, secret: str = SECRET):
    headers = shopify_headers(body, secret, "orders/create")
    return client.post(f"/hooks/shopify/{conn.pk}/", data=body, content_type="application/json", **headers)


def test_a_webhook_processed_posted_and_pushed_moves_every_flow_metric(
    world, host_client, django_capture_on_commit_callbacks
):
    with tenant_context(world.acme):
        standard_chart_apply()
        conn = ConnectionFactory(secrets={"webhook_secret": SECRET})
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(host_client(world.host(world.acme)), conn, fixture_bytes("shopify", "orders_create.json"))
    assert response.status_code == 200
    assert _value("tillbridge_events_received_total", {**ORDER, "source": "webhook"}) == 1
    assert _value("tillbridge_inbox_unprocessed_events") == 1
    assert _value("tillbridge_inbox_oldest_unprocessed_seconds") >= 0
    with tenant_context(world.acme):
        with django_capture_on_commit_callbacks(execute=True):
            event = event_process(event_id=response.json()["event"])
        assert event.status == InboundEvent.Status.PROCESSED
        assert _value("tillbridge_events_processed_total", {**ORDER, "outcome": "processed"}) == 1
        assert _value("tillbridge_event_processing_seconds_count", ORDER) == 1
        assert _value("tillbridge_event_processing_seconds_bucket", {**ORDER, "le": "+Inf"}) == 1
        assert _value("tillbridge_inbox_unprocessed_events") == 0
        assert _value("tillbridge_inbox_oldest_unprocessed_seconds") == 0
        assert _value("tillbridge_journals_posted_total", {"kind": "order"}) == 1
        with django_capture_on_commit_callbacks(execute=True):
            result = erp_push_journal(JournalEntry.objects.get().pk)
    assert result["result"] == "acked"
    assert _value("tillbridge_journals_pushed_total", {"vendor": "builtin_ledger"}) == 1
    assert _value("tillbridge_erp_push_seconds_count", {"vendor": "builtin_ledger", "status": "acked"}) == 1


def test_a_bad_signature_counts_as_a_signature_failure(world, host_client):
    with tenant_context(world.acme):
        conn = ConnectionFactory(secrets={"webhook_secret": SECRET})
    body = fixture_bytes("shopify", "orders_create.json")
    response = _post(host_client(world.host(world.acme)), conn, body, secret="not-the-secret")
    assert response.status_code == 401
    assert _value("tillbridge_webhook_signature_failures_total", {"vendor": "shopify"}) == 1
    assert _value("tillbridge_events_received_total", {**ORDER, "source": "webhook"}) == 0


def test_a_dead_event_counts_as_dead_and_as_a_dead_letter(world, django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        with django_capture_on_commit_callbacks(execute=True):
            event, _ = inbox.event_store(connection=conn, topic="orders/create", external_id="1", body=b"not json")
        assert _value("tillbridge_inbox_unprocessed_events") == 1
        with django_capture_on_commit_callbacks(execute=True):
            event = event_process(event_id=event.pk)
    assert event.status == InboundEvent.Status.DEAD
    assert _value("tillbridge_events_dead_total", ORDER) == 1
    assert _value("tillbridge_dead_letters_total", {"source": "inbound_event"}) == 1
    assert _value("tillbridge_inbox_unprocessed_events") == 0


def test_the_backlog_gauge_is_the_age_of_the_oldest_unfinished_event():
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for member, at in (("acme:1", hour_ago), ("globex:7", dt.datetime.now(dt.UTC))):
        metrics.event_received(
            vendor="shopify", topic="orders/create", source="poll", held=False, backlog_member=member, received_at=at
        )
    assert 3600 <= _value("tillbridge_inbox_oldest_unprocessed_seconds") < 3660
    assert _value("tillbridge_inbox_unprocessed_events") == 2
    assert _value("tillbridge_events_received_total", {**ORDER, "source": "poll"}) == 2


def test_a_failing_push_counts_as_failed_with_its_latency():
    metrics.erp_push_answered(
        vendor="xero", error="unavailable", claimed_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3)
    )
    assert _value("tillbridge_journals_push_failed_total", {"vendor": "xero", "error": "unavailable"}) == 1
    labels = {"vendor": "xero", "status": "failed"}
    assert _value("tillbridge_erp_push_seconds_bucket", {**labels, "le": "2.5"}) == 0
    assert _value("tillbridge_erp_push_seconds_bucket", {**labels, "le": "5.0"}) == 1
    assert 3 <= _value("tillbridge_erp_push_seconds_sum", labels) < 4


def test_recording_never_fails_the_work_when_redis_is_down(monkeypatch):
    def down():
        raise ConnectionError("redis down")

    monkeypatch.setattr(metrics, "_redis", down)
    metrics.webhook_signature_failed(vendor="shopify")
    assert list(metrics.COLLECTOR.collect()) == []


@respx.mock
def test_sync_runs_count_by_vendor_and_status_with_their_duration(world):
    orders = respx.get(f"{SHOP}/orders.json").mock(return_value=httpx.Response(200, json={"orders": []}))
    respx.get(f"{SHOP}/shopify_payments/payouts.json").mock(return_value=httpx.Response(200, json={"payouts": []}))
    with tenant_context(world.acme):
        conn = ConnectionFactory()
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        sync_run_step(run_id=run.pk, step=0)
        assert sync_run_step(run_id=run.pk, step=1).status == "succeeded"
        orders.mock(return_value=httpx.Response(401, json={"errors": "Invalid API key"}))
        run = sync_run_start(connection=conn, kind=SyncRun.Kind.MANUAL)
        assert sync_run_step(run_id=run.pk, step=0).status == "failed"
    assert _value("tillbridge_sync_runs_total", {"vendor": "shopify", "status": "succeeded"}) == 1
    assert _value("tillbridge_sync_runs_total", {"vendor": "shopify", "status": "failed"}) == 1
    assert _value("tillbridge_sync_run_seconds_count", {"vendor": "shopify", "status": "failed"}) == 1


@respx.mock
def test_an_outbound_webhook_given_up_counts_as_a_dead_letter(world, settings, monkeypatch):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    monkeypatch.setattr(webhooks, "_dispatch", lambda delivery_id, countdown=0: None)
    url = "https://93.184.216.34/hooks/tillbridge"
    webhooks.webhook_subscription_create(partner=world.northwind, url=url, events=["tenant.created"], actor=None)
    respx.post(url).mock(return_value=httpx.Response(500))
    [delivery] = webhooks.webhook_event_emit(partner=world.northwind, event="tenant.created", payload={})
    assert webhook_deliver(delivery.pk) == "failed"
    assert _value("tillbridge_dead_letters_total", {"source": "webhook_delivery"}) == 1


def test_the_grafana_dashboard_charts_every_business_metric():
    dashboard = json.loads((settings.BASE_DIR / "docs" / "grafana-dashboard.json").read_text())
    queries = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    names = [metric.name for metric in metrics.METRICS]
    names += ["tillbridge_inbox_oldest_unprocessed_seconds", "tillbridge_inbox_unprocessed_events"]
    assert [name for name in names if name not in queries] == []


def test_metrics_serves_the_business_metrics_the_worker_recorded(world, host_client, settings):
    settings.METRICS_TOKEN = "t" * 32
    metrics.journal_posted(source_key="refund:7:v1")  # as the worker would, in another process
    response = host_client(world.host(world.acme)).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {'t' * 32}")
    assert response.status_code == 200
    assert 'tillbridge_journals_posted_total{kind="refund"} 1.0' in response.content.decode()
    assert "# TYPE tillbridge_inbox_oldest_unprocessed_seconds gauge" in response.content.decode()


def test_metrics_recorded_in_a_batch_go_to_redis_in_one_round_trip(monkeypatch):
    real, pipelines = metrics._redis, []

    def counted():
        client = real()
        pipelines.append(client)
        return client

    monkeypatch.setattr(metrics, "_redis", counted)
    with metrics.metrics_batched():
        for status in ("processed", "processed", "dead"):
            metrics.event_finished(
                vendor="shopify",
                topic="orders/create",
                status=status,
                backlog_member="acme:1",
                received_at=dt.datetime.now(dt.UTC),
            )
        assert pipelines == []  # nothing sent yet
    assert len(pipelines) == 1
    assert _value("tillbridge_events_processed_total", {**ORDER, "outcome": "processed"}) == 2
    assert _value("tillbridge_events_dead_total", ORDER) == 1
