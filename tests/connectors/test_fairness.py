"""Fairness (DESIGN.md §6): a 10,000-order backfill in tenant A, served by its own queue and
worker, does not delay a webhook-driven order in tenant B beyond its normal latency."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.db import connection as db
from django.test import Client
from django_tenants.utils import tenant_context

from commerce.models import Order
from connectors.models import SyncRun
from connectors.services import connection_create
from connectors.simulator import shopify_order, shopify_signature
from connectors.sync import sync_run_cancel, sync_run_start
from mappings.services import standard_chart_apply
from tenants import services as tenant_services
from tests.conftest import BASE_DIR, tenant_delete_settled

BACKFILL_ORDERS = 10_000
PAGE = 250


class FakeShopify(BaseHTTPRequestHandler):
    """Pages of simulated orders, generated on the fly, with Shopify's Link pagination."""

    base = ""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path.endswith("/shopify_payments/payouts.json"):
            return self._json({"payouts": []}, "")
        page = int(query.get("page_info", ["0"])[0])
        rng = random.Random(page)
        at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=page)
        orders = [shopify_order(page * PAGE + index, rng=rng, at=at) for index in range(PAGE)]
        last = (page + 1) * PAGE >= BACKFILL_ORDERS
        link = "" if last else f'<{self.base}/orders.json?limit=250&page_info={page + 1}>; rel="next"'
        return self._json({"orders": orders}, link)

    def _json(self, payload: dict, link: str) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if link:
            self.send_header("Link", link)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def fake_shopify():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeShopify)
    FakeShopify.base = f"http://127.0.0.1:{server.server_port}/admin/api/2025-07"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FakeShopify.base
    server.shutdown()


@pytest.fixture
def backfill_worker(celery_worker):
    db_settings = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": (
            f"postgres://{db_settings['USER']}:{db_settings['PASSWORD'] or ''}@{db_settings['HOST']}:"
            f"{db_settings['PORT']}/{db_settings['NAME']}"
        ),
        "CONNECTORS_ALLOW_PRIVATE_URLS": "true",  # the fake shop listens on 127.0.0.1
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            settings.CONNECTOR_BACKFILL_QUEUE,
            "-n",
            f"backfill-{uuid.uuid4().hex[:6]}@%h",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def two_tenants(django_db_blocker, fake_shopify, settings):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = True  # the fake shop listens on 127.0.0.1
    from tests.conftest import _WORLD

    made = []
    with django_db_blocker.unblock():
        for role in ("a", "b"):
            slug = f"fair{role}{uuid.uuid4().hex[:5]}"
            tenant = tenant_services.tenant_create(partner=_WORLD.northwind, slug=slug, name=slug).tenant
            with tenant_context(tenant):
                standard_chart_apply()
                conn = connection_create(
                    vendor="shopify",
                    name=f"Shop {role}",
                    config={"shop_domain": "acme-outfitters.myshopify.com", "api_base_url": fake_shopify},
                    credentials={"access_token": "shpat_fair"},
                    webhook_secret="fair-secret",
                )
            made.append((tenant, conn, tenant.domains.get(is_primary=True).domain))
        db.set_schema_to_public()
    yield made, django_db_blocker
    with django_db_blocker.unblock():
        db.set_schema_to_public()
        for tenant, _conn, _host in made:
            tenant_delete_settled(tenant)


def _webhook_latency(blocker, tenant, conn, host, number: int) -> float:
    """Seconds from POSTing a signed order webhook in `tenant` to its order being stored."""
    body = json.dumps(shopify_order(900_000 + number, rng=random.Random(number), at=dt.datetime.now(dt.UTC))).encode()
    order_id = str(json.loads(body)["id"])
    client = Client(HTTP_HOST=host)
    with blocker.unblock():
        started = time.monotonic()
        response = client.post(
            f"/hooks/shopify/{conn.pk}/",
            data=body,
            content_type="application/json",
            HTTP_X_SHOPIFY_TOPIC="orders/create",
            HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(body, "fair-secret"),
        )
        assert response.status_code == 200
        with tenant_context(tenant):
            while not Order.objects.filter(external_id=order_id).exists():
                assert time.monotonic() - started < 60, "the webhook order was not processed within 60 s"
                time.sleep(0.05)
        db.set_schema_to_public()
    return time.monotonic() - started


@pytest.mark.worker
def test_a_big_backfill_in_one_tenant_does_not_delay_another_tenants_webhooks(two_tenants, backfill_worker):
    (tenant_a, conn_a, _host_a), (tenant_b, conn_b, host_b) = two_tenants[0]
    blocker = two_tenants[1]
    baseline = sorted(_webhook_latency(blocker, tenant_b, conn_b, host_b, n) for n in range(3))[1]
    with blocker.unblock(), tenant_context(tenant_a):
        run = sync_run_start(
            connection=conn_a, kind=SyncRun.Kind.BACKFILL, since=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        )
    deadline = time.monotonic() + 120
    while True:  # the backfill is under way: its first page of 250 orders is in
        with blocker.unblock(), tenant_context(tenant_a):
            run.refresh_from_db()
        if run.pages >= 1:
            break
        assert time.monotonic() < deadline, f"the backfill did not start: {run.status} {run.error}"
        time.sleep(0.2)
    during = sorted(_webhook_latency(blocker, tenant_b, conn_b, host_b, n) for n in range(3, 6))[1]
    with blocker.unblock(), tenant_context(tenant_a):
        run.refresh_from_db()
        backlog_left = BACKFILL_ORDERS - run.records
        sync_run_cancel(run=run)
        db.set_schema_to_public()
    print(f"webhook latency in tenant B: {baseline:.2f} s alone, {during:.2f} s during A's backfill")
    assert backlog_left > 0, "the backfill finished before B's webhooks were measured"
    assert during <= baseline * 3 + 1.0
