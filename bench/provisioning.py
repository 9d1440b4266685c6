"""Provisioning benchmark: is creating a tenant as cheap at tenant 300 as at tenant 1?

Creates a scratch database, provisions 300 tenants through the real service and prints the
seconds of the first and last ten, their ratio, and the latency of a page request on tenant 1
and on tenant 300. Usage: .venv/bin/python bench/provisioning.py [--tenants N]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_parser, bench_partner, public_schema_ready, repeat_timed, scratch_django


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    with scratch_django("tillbridge_bench_provisioning", keep=args.keep):
        from django.db import connection
        from django.test import Client
        from tqdm import tqdm

        from tenants import services
        from tenants.models import Membership
        from tenants.provisioning import template_ensure

        public_schema_ready()
        started = time.perf_counter()
        template_ensure()
        print(f"template schema migrated and captured once in {time.perf_counter() - started:.2f} s")
        partner = bench_partner()
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

            def page() -> None:
                response = client.get("/")
                assert response.status_code == 200, response.status_code

            return statistics.median(repeat_timed(page, args.requests))

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


if __name__ == "__main__":
    main()
