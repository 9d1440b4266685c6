"""Partner-wide exception inbox benchmark: is the first page fast with 500 tenants x 100 exceptions?

Creates a scratch database, inserts tenant rows (no schemas: the partner inbox reads only the
public TriageIndex, DESIGN.md §5) and their TriageIndex rows in bulk, then times the partner inbox's
first page through the real selector (triage.partner.selectors.partner_triage_index): filtered by severity,
open statuses, sorted by SLA due, 50 rows with each tenant's name and domain. Prints the median of
repeated runs (target < 50 ms), and the same with the page's row count, as the console shows it.

Usage: .venv/bin/python bench/inbox.py [--tenants 500] [--exceptions 100] [--runs 50] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_parser, bench_partner, public_schema_ready, repeat_timed, scratch_django

KINDS = ["sync", "normalise", "mapping", "posting", "erp_push", "reconciliation", "inventory", "webhook"]
SEVERITIES = [("critical", 0, 0.05), ("high", 1, 0.2), ("normal", 2, 0.55), ("low", 3, 0.2)]
STATUSES = [("open", 0.45), ("assigned", 0.15), ("snoozed", 0.05), ("resolved", 0.3), ("ignored", 0.05)]
FIX_CLASSES = ["value", "missing_data", "mapping", "connection_auth", "rate_limit", "parse", "business_rule"]
PAGE = 50


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--exceptions", type=int, default=100, help="exceptions per tenant")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    with scratch_django("tillbridge_bench_inbox", keep=args.keep):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.utils import timezone
    from tqdm import tqdm

    from tenants import services
    from tenants.models import Domain, Tenant
    from triage.partner.models import TriageIndex
    from triage.partner.selectors import partner_triage_index

    rng = random.Random(20260314)
    public_schema_ready()
    partner = bench_partner()
    # A second partner with its own tenants, so the partner filter has rows to skip.
    other = services.partner_create(slug="otherpartner", name="Other Partner", domain="other.localhost")
    owners = [partner] * args.tenants + [other] * max(1, args.tenants // 10)
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(schema_name=f"bench_{i:05d}", slug=f"shop{i:05d}", name=f"Shop {i}", partner=owner)
            for i, owner in enumerate(owners, start=1)
        ]
    )
    Domain.objects.bulk_create(
        [Domain(domain=f"{t.slug}.{t.partner.slug}.localhost", tenant=t, is_primary=True) for t in tenants]
    )
    now = timezone.now()
    total = len(tenants) * args.exceptions
    batch: list[TriageIndex] = []
    with tqdm(total=total, desc="TriageIndex rows", unit="row") as progress:
        for tenant in tenants:
            for exception_id in range(1, args.exceptions + 1):
                severity, rank, _ = rng.choices(SEVERITIES, weights=[s[2] for s in SEVERITIES])[0]
                status = rng.choices([s[0] for s in STATUSES], weights=[s[1] for s in STATUSES])[0]
                first_seen = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 30))
                sla_due = first_seen + dt.timedelta(hours=rng.choice([1, 4, 8, 24, 72, 168]))
                assigned = status == "assigned"
                batch.append(
                    TriageIndex(
                        partner_id=tenant.partner_id,
                        tenant_id=tenant.pk,
                        exception_id=exception_id,
                        kind=rng.choice(KINDS),
                        severity=severity,
                        severity_rank=rank,
                        fix_class=rng.choice(FIX_CLASSES),
                        status=status,
                        title=f"Exception {exception_id} of {tenant.slug}",
                        assignee_id=1 if assigned else None,
                        assignee_email="ops@bench.test" if assigned else "",
                        count=rng.randint(1, 500),
                        first_seen=first_seen,
                        last_seen=first_seen + dt.timedelta(minutes=rng.randint(0, 600)),
                        sla_due=sla_due,
                        sla_breached=status in ("open", "assigned", "snoozed") and sla_due <= now,
                    )
                )
                if len(batch) == 5000:
                    TriageIndex.objects.bulk_create(batch)
                    progress.update(len(batch))
                    batch = []
        if batch:
            TriageIndex.objects.bulk_create(batch)
            progress.update(len(batch))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tenants_triageindex; ANALYZE tenants_tenant; ANALYZE tenants_domain")

    def first_page() -> list:
        return list(partner_triage_index(partner=partner, severity="critical")[:PAGE])

    def first_page_with_count() -> tuple[int, list]:
        queryset = partner_triage_index(partner=partner, severity="critical")
        return queryset.count(), list(queryset[:PAGE])

    rows = first_page()
    assert len(rows) == PAGE and all(row.partner_id == partner.pk and row.severity == "critical" for row in rows)
    assert [row.sla_due for row in rows] == sorted(row.sla_due for row in rows)
    page = repeat_timed(first_page, args.runs)
    counted = repeat_timed(first_page_with_count, args.runs)
    matching = partner_triage_index(partner=partner, severity="critical").count()
    with connection.cursor() as cursor:
        sql, params = partner_triage_index(partner=partner, severity="critical")[:PAGE].query.sql_with_params()
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        plan = [line for (line,) in cursor.fetchall()]
    print(f"index rows:                          {TriageIndex.objects.count()} ({len(tenants)} tenants)")
    print(f"partner's tenants x exceptions:      {args.tenants} x {args.exceptions}")
    print(f"rows matching (critical, open):      {matching}")
    print(
        f"first page ({PAGE} rows), median:       {statistics.median(page) * 1000:.2f} ms "
        f"(p95 {sorted(page)[int(len(page) * 0.95) - 1] * 1000:.2f} ms; target < 50 ms)"
    )
    print(f"first page + row count, median:      {statistics.median(counted) * 1000:.2f} ms")
    print("plan: " + "\n      ".join(line for line in plan if "Scan" in line or "Execution" in line))


if __name__ == "__main__":
    main()
