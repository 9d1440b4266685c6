"""A suspended tenant ingests nothing (DESIGN.md §7): its signed webhooks are verified, stored and
answered 200 but held; no sweep, sync or ERP push runs for it; on resume the held events are
processed in the order they were received. Worker tests commit their data and use a real worker."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.db import connection as db
from django.test import Client
from django_tenants.utils import tenant_context

from commerce.models import Order
from commerce.services import order_upsert
from connectors import inbox, sync
from connectors.models import Connection, InboundEvent, SyncRun
from connectors.services import connection_create
from connectors.tasks import process_inbound_event
from mappings.services import standard_chart_apply
from portal.tasks import tenant_periodic_run
from posting.erp.models import ErpPush
from posting.erp.services import entries_due, erp_push_entry
from posting.models import JournalEntry
from posting.services import journal_post_order
from tenants import services as tenant_services
from tenants.models import Tenant
from tests.commerce.factories import shopify_order
from tests.connectors.helpers import fixture, shopify_headers
from tests.tenants.conftest import ApiClient

SECRET = "held-secret"
# Received in this order; the external ids are deliberately not sorted.
ORDER_IDS = (7_300_000_000_003, 7_300_000_000_001, 7_300_000_000_002)


@pytest.fixture
def committed_tenant(django_db_blocker):
    """A fresh tenant of northwind with a Shopify connection, committed so the worker sees it."""
    from tests.conftest import _WORLD

    slug = f"sus{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=f"Suspended {slug}").tenant
        with tenant_context(tenant):
            standard_chart_apply()
            conn = connection_create(
                vendor="shopify",
                name="Held shop",
                config={"shop_domain": "acme-outfitters.myshopify.com"},
                credentials={"access_token": "shpat_held"},
                webhook_secret=SECRET,
            )
        db.set_schema_to_public()
    yield _WORLD, tenant, conn, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        tenant_services.tenant_delete(tenant=Tenant.objects.get(pk=tenant.pk), confirm_slug=tenant.slug, actor=None)


def _order_body(order_id: int) -> bytes:
    order = fixture("shopify", "orders_create.json")
    order["id"] = order_id
    order["name"] = f"#{order_id % 10_000}"
    return json.dumps(order).encode()


def _wait(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the worker")


@pytest.mark.worker
def test_webhooks_of_a_suspended_tenant_are_held_then_processed_in_order_on_resume(celery_worker, committed_tenant):
    world, tenant, conn, blocker = committed_tenant
    with blocker.unblock():
        host = tenant.domains.get(is_primary=True).domain
        console = Client(HTTP_HOST="northwind.localhost")
        console.force_login(world.partner_admin, backend="django.contrib.auth.backends.ModelBackend")
        response = console.post(f"/api/v1/tenants/{tenant.slug}/suspend/")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "suspended"

        hooks = Client(HTTP_HOST=host)
        answers = []
        for order_id in ORDER_IDS:
            body = _order_body(order_id)
            answers.append(
                hooks.post(
                    f"/hooks/shopify/{conn.pk}/",
                    data=body,
                    content_type="application/json",
                    **shopify_headers(body, SECRET, "orders/create"),
                )
            )
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.json()["status"] for a in answers] == ["held"] * 3
        # A forged webhook is still refused while suspended.
        forged = hooks.post(
            f"/hooks/shopify/{conn.pk}/",
            data=_order_body(1),
            content_type="application/json",
            **shopify_headers(b"something else", SECRET, "orders/create"),
        )
        assert forged.status_code == 401

        with tenant_context(tenant):
            events = list(InboundEvent.objects.order_by("received_at", "pk"))
            assert [e.external_id for e in events] == [str(i) for i in ORDER_IDS]
            assert {e.status for e in events} == {"held"}
            # The worker, handed one of them anyway, holds it; the sweeper and the per-minute run skip them.
            result = process_inbound_event.apply_async(kwargs={"event_id": events[0].pk})
            assert inbox.events_sweep() == 0
            periodic = tenant_periodic_run.apply_async()
        db.set_schema_to_public()
    assert result.get(timeout=60) == "held"
    assert periodic.get(timeout=60) == {}
    time.sleep(1.0)
    with blocker.unblock(), tenant_context(tenant):
        assert set(InboundEvent.objects.values_list("status", flat=True)) == {"held"}
        assert Order.objects.count() == 0
        assert JournalEntry.objects.count() == 0
        db.set_schema_to_public()

    with blocker.unblock():
        response = console.post(f"/api/v1/tenants/{tenant.slug}/resume/")
        assert response.status_code == 200
        assert response.json()["status"] == "active"

    def done() -> bool:
        with blocker.unblock(), tenant_context(tenant):
            return not InboundEvent.objects.exclude(status="processed").exists() and JournalEntry.objects.count() == 3

    _wait(done)
    with blocker.unblock(), tenant_context(tenant):
        events = list(InboundEvent.objects.order_by("received_at", "pk"))
        processed_at = [e.processed_at for e in events]
        assert processed_at == sorted(processed_at)  # processed in the order received
        orders = list(Order.objects.order_by("pk").values_list("external_id", flat=True))
        assert orders == [str(i) for i in ORDER_IDS]  # created in the order received
        assert JournalEntry.objects.count() == 3
        db.set_schema_to_public()

    def pushed() -> bool:  # the fixture deletes the tenant: nothing of its may still be running
        with blocker.unblock(), tenant_context(tenant):
            return ErpPush.objects.filter(status=ErpPush.Status.ACKED).count() == 3

    _wait(pushed)


def _suspend(tenant: Tenant) -> None:
    tenant_services.tenant_status_set(tenant=Tenant.objects.get(pk=tenant.pk), status="suspended", actor=None)


def test_a_suspended_tenant_starts_no_sync_and_steps_no_run(world):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="shopify",
            name="Polled shop",
            config={"shop_domain": "acme-outfitters.myshopify.com"},
            credentials={"access_token": "shpat_poll"},
        )
        run = SyncRun.objects.create(connection=conn, topics=["orders/create"], cursor={"topic_index": 0, "topic": {}})
    _suspend(world.acme)
    with tenant_context(world.acme):
        Connection.objects.filter(pk=conn.pk).update(next_sync_at=None)  # due now
        assert sync.sync_runs_start_due() == []
        assert sync.sync_runs_resume_stalled() == 0
        stepped = sync.sync_run_step(run_id=run.pk, step=0)
        assert (stepped.status, stepped.pages, stepped.started_at) == ("queued", 0, None)
        assert SyncRun.objects.filter(connection=conn).count() == 1
    tenant_services.tenant_status_set(tenant=Tenant.objects.get(pk=world.acme.pk), status="active", actor=None)
    with tenant_context(world.acme):
        assert sync.sync_runs_start_due() == [run]  # once resumed, the due connection is synced again


def test_a_suspended_tenant_pushes_nothing_to_its_erp(world):
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order(external_id="9301")).obj
        entry = journal_post_order(order=order).entry
    _suspend(world.acme)
    with tenant_context(world.acme):
        outcome = erp_push_entry(entry=entry)
        assert (outcome.push, outcome.skipped) == (None, "the tenant is suspended")
        assert tenant_periodic_run() == {}
        assert not ErpPush.objects.exists()
    tenant_services.tenant_status_set(tenant=Tenant.objects.get(pk=world.acme.pk), status="active", actor=None)
    with tenant_context(world.acme):
        assert list(entries_due()) == [entry]  # still due: the sweep pushes it after resume
        assert erp_push_entry(entry=entry).push.status == ErpPush.Status.ACKED


def test_a_suspended_tenant_refuses_pages_and_keys_but_acknowledges_webhooks(world, make_key):
    with tenant_context(world.acme):
        conn = connection_create(
            vendor="shopify",
            name="Hook shop",
            config={"shop_domain": "acme-outfitters.myshopify.com"},
            credentials={"access_token": "shpat_hook"},
            webhook_secret=SECRET,
        )
    key = make_key(scopes=["read"], tenant=world.acme)
    _suspend(world.acme)
    host = world.host(world.acme)
    assert ApiClient(host, key).get("/api/v1/accounts/").status_code == 403
    body = _order_body(7_300_000_000_009)
    response = Client(HTTP_HOST=host).post(
        f"/hooks/shopify/{conn.pk}/",
        data=body,
        content_type="application/json",
        **shopify_headers(body, SECRET, "orders/create"),
    )
    assert response.status_code == 200
    assert response.json()["status"] == "held"
    with tenant_context(world.acme):
        assert InboundEvent.objects.get(connection=conn).status == "held"
        assert Order.objects.count() == 0


def test_release_processes_held_events_in_received_order_and_leaves_a_paused_connection_received(world, monkeypatch):
    """The release itself, in-process: oldest first, one paused connection does not stop the rest."""
    from django_redis import get_redis_connection

    get_redis_connection("default").delete(f"tb:inbox-release:{world.acme.schema_name}")
    with tenant_context(world.acme):
        standard_chart_apply()
        live = connection_create(
            vendor="shopify",
            name="Live shop",
            config={"shop_domain": "acme-outfitters.myshopify.com"},
            credentials={"access_token": "a"},
            webhook_secret=SECRET,
        )
        paused = connection_create(
            vendor="shopify",
            name="Paused shop",
            config={"shop_domain": "acme-outfitters.myshopify.com"},
            credentials={"access_token": "b"},
            webhook_secret=SECRET,
        )
    _suspend(world.acme)
    with tenant_context(world.acme):
        stored = [
            inbox.event_store(
                connection=conn, topic="orders/create", external_id=str(order_id), body=_order_body(order_id)
            )[0]
            for conn, order_id in ((paused, 7_300_000_000_020), *((live, i) for i in ORDER_IDS))
        ]
        assert {e.status for e in stored} == {"held"}
        assert inbox.events_release_held() == 0  # still suspended: nothing moves
        Connection.objects.filter(pk=paused.pk).update(status=Connection.Status.PAUSED)
    sent = []
    monkeypatch.setattr(inbox, "_dispatch_release", lambda: sent.append(True))
    tenant_services.tenant_status_set(tenant=Tenant.objects.get(pk=world.acme.pk), status="active", actor=None)
    with tenant_context(world.acme):
        assert inbox.events_sweep() == 0 and sent == [True]  # held events left over: the sweep sends the release
        assert inbox.events_release_held() == 4
        statuses = dict(InboundEvent.objects.values_list("external_id", "status"))
        assert statuses.pop("7300000000020") == "received"  # waits for its connection's resume
        assert set(statuses.values()) == {"processed"}
        assert list(Order.objects.order_by("pk").values_list("external_id", flat=True)) == [str(i) for i in ORDER_IDS]
