"""The due-time index of periodic work (DESIGN.md §3): one `TenantDue` row per tenant in `public`.

- A write that may give a tenant work marks it (`tenant_due_bump`): due at the next beat, every job.
  One statement in the writer's transaction; while the tenant is already marked and due it changes
  nothing and takes no row lock, so a webhook storm marks it once.
- The per-minute beat claims the active tenants due now (`tenants_due_claim`: one indexed query),
  leases them for `LEASE` (a lost visit is claimed again when the lease ends) and sends one visit
  each. A tenant with nothing due is not read, not sent, not visited.
- A visit (`tenant_periodic_visit`) runs the jobs due (all of them when the tenant was marked),
  then reads every job's next due time (core.periodic: `next_due`) and records them with the
  tenant's earliest. It records only if no mark came during the visit (`version`); otherwise the
  mark stands and the next visit runs every job again.

Why PostgreSQL and not a Redis sorted set: the mark is written in the same transaction as the
work that causes it (the stored event, the raised exception), so it cannot be lost to a crash
between the two, to Redis being down or flushed; the beat's read is one index range scan.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import structlog
from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from core.periodic import periodic_job_specs
from tenants.models import Tenant, TenantDue

log = structlog.get_logger(__name__)

LEASE = dt.timedelta(minutes=10)
# A job whose next due time could not be read is visited again at the next beat.
UNREADABLE_RETRY = dt.timedelta(0)

_DUE = f"public.{TenantDue._meta.db_table}"
_TENANTS = f"public.{Tenant._meta.db_table}"


@dataclass(frozen=True)
class DueVisit:
    """One claimed tenant: the jobs to run (None: every job) and the version the claim saw."""

    schema_name: str
    version: int
    jobs: list[str] | None


def tenant_due_bump(*, schema_name: str | None = None) -> None:
    """Mark a tenant (the current schema's by default) due at the next beat, every job."""
    schema_name = schema_name or connection.schema_name
    if schema_name == get_public_schema_name():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH t AS (SELECT id FROM {_TENANTS} WHERE schema_name = %(schema)s),
            marked AS (
                UPDATE {_DUE} d SET due_at = LEAST(d.due_at, %(now)s), all_due = true, version = d.version + 1
                FROM t WHERE d.tenant_id = t.id
                AND NOT (d.all_due AND d.due_at IS NOT NULL AND d.due_at <= %(now)s)
                RETURNING d.tenant_id
            )
            INSERT INTO {_DUE} (tenant_id, due_at, all_due, version, jobs)
            SELECT t.id, %(now)s, true, 1, '{{}}'::jsonb FROM t
            WHERE NOT EXISTS (SELECT 1 FROM {_DUE} e WHERE e.tenant_id = t.id)
            ON CONFLICT (tenant_id) DO NOTHING
            """,
            {"schema": schema_name, "now": timezone.now()},
        )


def tenants_due_claim(*, now: dt.datetime | None = None, limit: int = 10_000) -> list[DueVisit]:
    """Claim the active tenants due at `now` (each leased until `now + LEASE`) and say which jobs
    each visit runs. One statement; concurrent beats never claim the same tenant twice. A tenant
    without a row (created before the index, restored from a dump) gets one, due at the next beat."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH added AS (
                INSERT INTO {_DUE} (tenant_id, due_at, all_due, version, jobs)
                SELECT t.id, %(now)s, true, 0, '{{}}'::jsonb FROM {_TENANTS} t
                WHERE t.schema_name <> %(public)s AND NOT EXISTS (SELECT 1 FROM {_DUE} e WHERE e.tenant_id = t.id)
                ON CONFLICT (tenant_id) DO NOTHING
                RETURNING tenant_id
            )
            UPDATE {_DUE} d SET due_at = %(lease)s
            FROM (
                SELECT d2.tenant_id, t.schema_name FROM {_DUE} d2 JOIN {_TENANTS} t ON t.id = d2.tenant_id
                WHERE d2.due_at <= %(now)s AND t.status = %(active)s
                ORDER BY d2.due_at LIMIT %(limit)s
                FOR UPDATE OF d2 SKIP LOCKED
            ) c
            WHERE d.tenant_id = c.tenant_id
            RETURNING c.schema_name, d.version, d.all_due, d.jobs
            """,
            {
                "now": now,
                "lease": now + LEASE,
                "active": Tenant.Status.ACTIVE,
                "limit": limit,
                "public": get_public_schema_name(),
            },
        )
        rows = cursor.fetchall()
    names = [job.name for job in periodic_job_specs()]
    return [
        DueVisit(schema, version, None if all_due else _jobs_due(names, jobs, now))
        for schema, version, all_due, jobs in rows
    ]


def _jobs_due(names: list[str], jobs: dict | str, now: dt.datetime) -> list[str]:
    """The jobs whose recorded time has come; a job with no record (new since) is due."""
    recorded = json.loads(jobs) if isinstance(jobs, str) else jobs
    cutoff = now.timestamp()
    return [name for name in names if name not in recorded or (recorded[name] is not None and recorded[name] <= cutoff)]


def tenant_due_record(*, version: int | None, dues: dict[str, dt.datetime | None]) -> dt.datetime | None:
    """Record the current tenant's next due times after a visit; returns its earliest. If the
    tenant was marked during the visit (or the visit had no claim), the mark stands, only sooner."""
    times = [at for at in dues.values() if at is not None]
    earliest = min(times) if times else None
    jobs = {name: (at.timestamp() if at is not None else None) for name, at in dues.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_DUE} d SET
                due_at = CASE WHEN d.version = %(version)s THEN %(due)s ELSE LEAST(d.due_at, %(due)s) END,
                all_due = CASE WHEN d.version = %(version)s THEN false ELSE d.all_due END,
                jobs = CASE WHEN d.version = %(version)s THEN %(jobs)s::jsonb ELSE d.jobs END
            FROM {_TENANTS} t WHERE t.id = d.tenant_id AND t.schema_name = %(schema)s
            """,
            {"version": version, "due": earliest, "jobs": json.dumps(jobs), "schema": connection.schema_name},
        )
    return earliest


def tenant_periodic_visit(*, jobs: list[str] | None = None, version: int | None = None) -> dict[str, str]:
    """Run the given jobs (every job: None) in the current tenant schema, then record when each is
    next due. One failing job never stops the others; its error is logged and returned."""
    specs = periodic_job_specs()
    results: dict[str, str] = {}
    for spec in specs:
        if jobs is not None and spec.name not in jobs:
            continue
        try:
            spec.run()
            results[spec.name] = "ok"
        except Exception as exc:  # one failing job must not stop the others; the error is logged
            log.exception("periodic_job_failed", job=spec.name, schema=connection.schema_name)
            results[spec.name] = f"error: {exc}"
    now = timezone.now()
    dues: dict[str, dt.datetime | None] = {}
    for spec in specs:  # upstream first: see core.periodic
        try:
            dues[spec.name] = spec.next_due(now)
        except Exception:  # an unreadable due time: visit again at the next beat
            log.exception("periodic_job_next_due_failed", job=spec.name, schema=connection.schema_name)
            dues[spec.name] = now + UNREADABLE_RETRY
    tenant_due_record(version=version, dues=dues)
    return results
