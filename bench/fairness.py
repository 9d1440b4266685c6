"""Fairness benchmark (issue 15): tenant B's webhook → journal latency while tenant A sends a storm
of N webhooks, against B alone, in one run.

Creates a scratch database with two tenants (A and B) on the standard chart, each with a Shopify
connection, starts gunicorn and a Celery worker on it, then:
  1. B alone: B sends --samples signed order webhooks one after another; each is timed from the
     POST until its balanced journal is committed;
  2. storm: A's N order webhooks arrive at once (stored by the inbox exactly as A's webhook view
     stores them, each dispatched on commit), then, while A's backlog is worked off, B sends
     --samples webhooks again over HTTP, timed the same way;
  3. waits until A's N journals are all posted (nothing lost) and prints both p95s and their ratio,
     for the whole path (POST -> journal) and for the part after the acknowledgement (event stored
     -> journal: the queues that fairness governs).
Run with FAIR_QUEUES_ENABLED=false to see the same storm on Celery's plain FIFO queue.
Goal: B's p95 during A's storm <= 1.5 x B's p95 alone.
Usage: .venv/bin/python bench/fairness.py [N] [--samples S] [--erp-worker] [--keep]
The bench uses Redis databases BENCH_REDIS_DB and BENCH_REDIS_DB+1 (default 10 and 11) and the scratch
database BENCH_DB_NAME (default tillbridge_bench_fairness; name it after your branch when several run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import drop_database, recreate_database, scratch_database_url  # noqa: E402

REDIS_DB = os.environ.get("BENCH_REDIS_DB", "10")
SECRET = "bench-fairness-secret"  # noqa: S105 - a scratch database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", nargs="?", type=int, default=10_000, help="tenant A's storm (default 10000)")
    parser.add_argument("--samples", type=int, default=40, help="B's timed webhooks per phase")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument(
        "--erp-worker", action="store_true", help="a second worker (concurrency 1) takes fair.erp; the first the rest"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    run_started = time.perf_counter()

    url = scratch_database_url(os.environ.get("BENCH_DB_NAME", "tillbridge_bench_fairness"))
    recreate_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
        "TEST_REDIS_DB": REDIS_DB,
        "LOG_LEVEL": "ERROR",
    }
    os.environ.update(
        {key: env[key] for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "TEST_REDIS_DB", "LOG_LEVEL")}
    )
    import django

    django.setup()
    import httpx
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection as db
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from commerce.models import Order
    from connectors.inbox import event_store
    from connectors.models import InboundEvent
    from connectors.services import connection_create
    from connectors.simulator import shopify_order, shopify_signature
    from core.fairness import fair_clear
    from mappings.services import standard_chart_apply
    from posting.models import JournalEntry
    from tenants import services
    from tenants.provisioning import template_ensure

    processes: list[subprocess.Popen] = []
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        fair_clear()
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        services.public_tenant_ensure(domain="localhost")
        template_ensure()
        partner = services.partner_create(slug="fairpartner", name="Fair Partner", domain="fair.localhost")
        shops = {}
        for role in ("a", "b"):
            tenant = services.tenant_create(partner=partner, slug=f"shop{role}", name=f"Shop {role.upper()}").tenant
            with tenant_context(tenant):
                standard_chart_apply()
                conn = connection_create(
                    vendor="shopify",
                    name=f"Shop {role.upper()}",
                    config={"shop_domain": f"shop-{role}.myshopify.com", "simulated": True},
                    credentials={"access_token": "shpat_bench"},
                    webhook_secret=SECRET,
                )
            shops[role] = (tenant, conn, tenant.domains.get(is_primary=True).domain)
        db.set_schema_to_public()
        port = _free_port()
        common = ["--without-gossip", "--without-mingle", "--loglevel=WARNING"]
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "portal.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(args.web_workers),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        workers = [[f"--concurrency={args.celery_concurrency}"]]
        if args.erp_worker:  # production's advice (docs/architecture.md): ERP pushes on workers of their own
            queues = ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES if queue.name != "fair.erp")
            workers = [
                [*workers[0], f"--queues={queues}", "-n", "main@%h"],
                ["--concurrency=1", "--queues=fair.erp", "-n", "erp@%h"],
            ]
        for options in workers:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "portal", "worker", *options, *common], cwd=ROOT, env=env
                )
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/hooks/__hello__", headers={"Host": shops["b"][2]}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)

        def post(client: httpx.Client, role: str, number: int) -> None:
            _tenant, conn, host = shops[role]
            body = json.dumps(shopify_order(number, rng=random.Random(number), at=now)).encode()
            response = client.post(
                f"{base}/hooks/shopify/{conn.pk}/",
                content=body,
                headers={
                    "Host": host,
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": shopify_signature(body, SECRET),
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"webhook answered {response.status_code}")

        def journal_posted(number: int) -> JournalEntry | None:
            order = Order.objects.filter(external_id=str(7_100_000_000_000 + number)).only("pk").first()
            if order is None:
                return None
            return JournalEntry.objects.filter(source_key__startswith=f"order:{order.pk}:").first()

        server_side: dict[int, float] = {}
        waited: dict[int, float] = {}  # stored -> claimed by an ingest batch (the queues' wait)

        def b_latency(client: httpx.Client, number: int) -> float:
            """POST -> journal committed (end to end); also keeps stored -> journal (the queues' part),
            split at the moment the event is seen claimed (polled every 5 ms): waiting, then running."""
            started = time.perf_counter()
            post(client, "b", number)
            claimed_at = None
            events = InboundEvent.objects.filter(external_id=str(7_100_000_000_000 + number))
            with tenant_context(shops["b"][0]):
                while (entry := journal_posted(number)) is None:
                    if time.perf_counter() - started > 600:
                        raise RuntimeError(f"B's order {number} was not posted within 600 s")
                    if claimed_at is None and events.exclude(status=InboundEvent.Status.RECEIVED).exists():
                        claimed_at = datetime.now(UTC)
                    time.sleep(0.005)
                event = events.first()
                server_side[number] = (entry.created_at - event.received_at).total_seconds()
                waited[number] = ((claimed_at or entry.created_at) - event.received_at).total_seconds()
            return time.perf_counter() - started

        now = datetime.now(UTC)
        b_client = httpx.Client(timeout=30)
        for number in range(10):  # warm both processes up (imports, connections); not measured
            b_latency(b_client, 900_000 + number)
        alone = [b_latency(b_client, 1_000 + number) for number in range(args.samples)]

        def a_journals() -> int:
            with tenant_context(shops["a"][0]):
                return JournalEntry.objects.count()

        sent = {"count": 0, "seconds": 0.0}
        storm_started = time.perf_counter()
        a_tenant, a_conn, _a_host = shops["a"]
        with tenant_context(a_tenant):
            # A's storm arrives at once: the events are stored as A's webhook view stores them, in
            # batches of 500 per transaction so the backlog builds faster than it drains, and each
            # is dispatched the way the view dispatches it (on commit).
            for first in range(0, args.events, 500):
                with transaction.atomic():
                    for number in range(first, min(args.events, first + 500)):
                        body = json.dumps(shopify_order(number, rng=random.Random(number), at=now)).encode()
                        event_store(
                            connection=a_conn,
                            topic="orders/create",
                            external_id=str(7_100_000_000_000 + number),
                            body=body,
                            headers={"X-Shopify-Topic": "orders/create"},
                        )
                        sent["count"] += 1
        sent["seconds"] = time.perf_counter() - storm_started
        during = []
        backlog_at = []
        for number in range(args.samples):
            backlog_at.append(sent["count"] - a_journals())
            during.append(b_latency(b_client, 2_000 + number))
        a_done_at = None
        while (posted := a_journals()) < args.events:
            if time.perf_counter() - storm_started > 3600:
                raise RuntimeError(f"only {posted} of A's {args.events} journals after an hour")
            time.sleep(0.5)
        a_done_at = time.perf_counter() - storm_started
        with tenant_context(shops["b"][0]):
            b_total = JournalEntry.objects.count()

        p95_alone, p95_during = _percentile(alone, 95), _percentile(during, 95)
        alone_q = [server_side[1_000 + number] for number in range(args.samples)]
        during_q = [server_side[2_000 + number] for number in range(args.samples)]
        q95_alone, q95_during = _percentile(alone_q, 95), _percentile(during_q, 95)
        total = time.perf_counter() - run_started
        mode = "fair queues" if settings.FAIR_QUEUES_ENABLED else "FIFO: FAIR_QUEUES_ENABLED off"
        print()
        print(
            f"fairness benchmark ({mode}): "
            f"tenant A storm of {args.events} webhooks, "
            f"{args.samples} timed webhooks of tenant B per phase; gunicorn {args.web_workers} workers, "
            f"Celery concurrency {args.celery_concurrency}{' + 1 for fair.erp' if args.erp_worker else ''}, "
            f"{os.cpu_count()} CPUs"
        )
        print(
            f"  B alone            p50 {statistics.median(alone) * 1000:7.1f} ms   p95 {p95_alone * 1000:7.1f} ms"
            f"   max {max(alone) * 1000:7.1f} ms"
        )
        print(
            f"  B during A's storm p50 {statistics.median(during) * 1000:7.1f} ms   p95 {p95_during * 1000:7.1f} ms"
            f"   max {max(during) * 1000:7.1f} ms"
            f"   (A's backlog while B was timed: {min(backlog_at)}-{max(backlog_at)} events waiting)"
        )
        print(f"  ratio p95 during / alone: {p95_during / p95_alone:.2f}x   (goal ≤ 1.5x)")
        print(
            f"  stored -> journal  p95 alone {q95_alone * 1000:7.1f} ms, during {q95_during * 1000:7.1f} ms: "
            f"{q95_during / q95_alone:.2f}x (the part after the webhook's acknowledgement)"
        )
        print(
            f"  A's {args.events} webhooks stored in {sent['seconds']:.1f} s; all {args.events} journals posted "
            f"after {a_done_at:.1f} s; B's journals {b_total} (expected {10 + 2 * args.samples})"
        )
        for label, offset in (("alone", 1_000), ("during", 2_000)):
            wait = [waited[offset + number] for number in range(args.samples)]
            run = [server_side[offset + number] - waited[offset + number] for number in range(args.samples)]
            print(
                f"  B {label:6} stored -> claimed (queue wait) p50 {statistics.median(wait) * 1000:6.1f} ms "
                f"p95 {_percentile(wait, 95) * 1000:6.1f} ms; claimed -> journal (batch run) "
                f"p50 {statistics.median(run) * 1000:6.1f} ms p95 {_percentile(run, 95) * 1000:6.1f} ms"
            )
        print(f"  the whole run took {total:.0f} s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
