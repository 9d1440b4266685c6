"""Ingest benchmark: webhook acknowledgement latency under concurrent load on gunicorn, and
end-to-end orders/s (signed Shopify webhook → stored event → Celery worker → order → balanced
journal), with a hello-world Django view on the same gunicorn as the baseline in the same run.

Creates a scratch database with one tenant on the standard chart and a Shopify connection, starts
gunicorn (sync workers) and a Celery worker on it, then:
  1. GETs the hello-world view N times from C threads (baseline latency);
  2. POSTs N distinct signed order webhooks from C threads (ack latency: verify + store + 200);
  3. waits until every order has its journal entry (end-to-end throughput).
Usage: .venv/bin/python bench/ingest.py [--orders N] [--concurrency C] [--web-workers W] [--keep]
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.provisioning import drop_database, recreate_database, scratch_database_url  # noqa: E402

REDIS_DB = "14"  # the bench's own broker (14) and cache (15) databases


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _timed(client, method: str, url: str, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.request(method, url, **kwargs)
    return (time.perf_counter() - started) * 1000, response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    url = scratch_database_url("tillbridge_bench_ingest")
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
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from connectors.services import connection_create
    from connectors.simulator import shopify_order, shopify_signature
    from mappings.services import standard_chart_apply
    from posting.models import JournalEntry
    from tenants import services
    from tenants.provisioning import template_ensure

    processes: list[subprocess.Popen] = []
    try:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        services.public_tenant_ensure(domain="localhost")
        template_ensure()
        partner = services.partner_create(slug="benchpartner", name="Bench Partner", domain="bench.localhost")
        tenant = services.tenant_create(partner=partner, slug="benchshop", name="Bench Shop").tenant
        host = tenant.domains.get(is_primary=True).domain
        secret = "bench-webhook-secret"  # noqa: S105 - a scratch database
        with tenant_context(tenant):
            standard_chart_apply()
            connection = connection_create(
                vendor="shopify",
                name="Bench shop",
                config={"shop_domain": "bench-shop.myshopify.com", "simulated": True},
                credentials={"access_token": "shpat_bench"},
                webhook_secret=secret,
            )
        port = _free_port()
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
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    f"--concurrency={args.celery_concurrency}",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(headers={"Host": host}, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get(f"{base}/hooks/__hello__").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)

        hello: list[float] = []
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = [pool.submit(_timed, client, "GET", f"{base}/hooks/__hello__") for _ in range(args.orders)]
            for future in tqdm(futures, desc="hello-world", unit="req"):
                hello.append(future.result()[0])

        rng = random.Random(42)
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        bodies = [json.dumps(shopify_order(number, rng=rng, at=now)).encode() for number in range(args.orders)]
        hook = f"{base}/hooks/shopify/{connection.pk}/"

        def post(body: bytes) -> tuple[float, int]:
            return _timed(
                client,
                "POST",
                hook,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": shopify_signature(body, secret),
                },
            )

        acks: list[float] = []
        statuses: dict[int, int] = {}
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            for latency, status in tqdm(pool.map(post, bodies), total=len(bodies), desc="webhooks", unit="req"):
                acks.append(latency)
                statuses[status] = statuses.get(status, 0) + 1
        sent = time.perf_counter() - started
        with tenant_context(tenant), tqdm(total=args.orders, desc="journals", unit="order") as bar:
            posted = 0
            while posted < args.orders:
                count = JournalEntry.objects.count()
                bar.update(count - posted)
                posted = count
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"only {posted} of {args.orders} orders posted after 600 s")
                time.sleep(0.2)
        end_to_end = time.perf_counter() - started

        print()
        print(
            f"ingest benchmark: {args.orders} orders, {args.concurrency} concurrent clients, "
            f"gunicorn {args.web_workers} sync workers, Celery concurrency {args.celery_concurrency}, "
            f"{os.cpu_count()} CPUs"
        )
        print(f"  hello-world view    p50 {statistics.median(hello):7.1f} ms   p99 {_percentile(hello, 99):7.1f} ms")
        print(
            f"  webhook ack         p50 {statistics.median(acks):7.1f} ms   p99 {_percentile(acks, 99):7.1f} ms   "
            f"statuses {statuses}"
        )
        print(f"  webhooks accepted   {args.orders / sent:7.1f} /s")
        print(
            f"  end to end          {args.orders / end_to_end:7.1f} orders/s (webhook → balanced journal), "
            f"{end_to_end:.1f} s total"
        )
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
