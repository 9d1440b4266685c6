"""Provisioning benchmark: is creating a tenant as cheap at tenant 300 as at tenant 1?

Creates a scratch database, provisions 300 tenants through the real service and prints the
seconds of the first and last ten, their ratio, and the latency of a page request on tenant 1
and on tenant 300. Usage: .venv/bin/python bench/provisioning.py [--tenants N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg


def scratch_database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL")
    if not base:
        env_file = Path(__file__).resolve().parent.parent / ".local" / "env"
        for line in env_file.read_text().splitlines() if env_file.exists() else []:
            if line.startswith("DATABASE_URL="):
                base = line.split("=", 1)[1].strip()
    parsed = urlparse(base or "postgres://postgres@127.0.0.1:5432/tillbridge")
    return urlunparse(parsed._replace(path=f"/{name}"))


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    maintenance = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path[1:]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.path[1:]}"')


def drop_database(url: str) -> None:
    parsed = urlparse(url)
    maintenance = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path[1:]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    url = scratch_database_url("tillbridge_bench_provisioning")
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from tqdm import tqdm

    from tenants import services
    from tenants.models import Membership
    from tenants.provisioning import template_ensure

    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        services.public_tenant_ensure(domain="localhost")
        started = time.perf_counter()
        template_ensure()
        print(f"template schema migrated and captured once in {time.perf_counter() - started:.2f} s")
        partner = services.partner_create(slug="benchpartner", name="Bench Partner", domain="bench.localhost")
        user = services.user_create(email="bench@example.test", password="bench-password-123", verified=True)
        services.membership_grant(user=user, partner=partner, role=Membership.Role.PARTNER_ADMIN)

        seconds: list[float] = []
        for index in tqdm(range(1, args.tenants + 1), desc="provisioning tenants", unit="tenant"):
            created = services.tenant_create(partner=partner, slug=f"shop{index:04d}", name=f"Shop {index}")
            seconds.append(created.seconds)
        connection.set_schema_to_public()

        def page_latency(slug: str) -> float:
            client = Client(HTTP_HOST=f"{slug}.bench.localhost")
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            client.get("/")  # warm
            samples = []
            for _ in range(args.requests):
                begin = time.perf_counter()
                response = client.get("/")
                samples.append(time.perf_counter() - begin)
                assert response.status_code == 200, response.status_code
            return statistics.median(samples)

        first, last = seconds[:10], seconds[-10:]
        first_mean, last_mean = statistics.mean(first), statistics.mean(last)
        latency_first = page_latency("shop0001")
        latency_last = page_latency(f"shop{args.tenants:04d}")
        print(f"tenants provisioned:            {args.tenants}")
        print(f"first 10 tenants, mean seconds: {first_mean:.3f} (max {max(first):.3f})")
        print(f"last 10 tenants, mean seconds:  {last_mean:.3f} (max {max(last):.3f})")
        print(f"ratio last/first:               {last_mean / first_mean:.2f} (goal <= 1.3, each < 1 s)")
        print(f"page request tenant 1, median:  {latency_first * 1000:.1f} ms")
        print(f"page request tenant {args.tenants}, median: {latency_last * 1000:.1f} ms")
        print(f"latency ratio:                  {latency_last / latency_first:.2f}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
