"""Usage metering for billing: daily counters per partner, tenant and metric.

`usage_count` (the hot path: a stored webhook, a new order, a posted journal) adds to a Redis hash
once the caller's transaction commits, so a rolled-back attempt counts nothing and concurrent writers
of one tenant never queue on its daily row; `usage_flush` (a public job, once a minute) moves the
hash into UsageRecord exactly once (see its docstring). The database therefore lags by at most one
flush. `usage_increment` writes a row directly: one INSERT … ON CONFLICT DO UPDATE, so concurrent
increments never lose a count. Partner-level API calls are counted with tenant NULL (the unique
constraint treats NULLs as equal)."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

import structlog
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import ResponseError

from core.spreadsheet import csv_writer
from tenants.models import Partner, Tenant, UsageFlush, UsageRecord

log = structlog.get_logger(__name__)

METRICS = tuple(UsageRecord.Metric.values)


def _metric_check(metric: str) -> None:
    if metric not in METRICS:
        raise ValidationError({"metric": f"{metric!r} is not a usage metric."})


def usage_increment(
    *,
    metric: str,
    tenant: Tenant | None = None,
    partner: Partner | None = None,
    amount: int = 1,
    day: date | None = None,
) -> None:
    _metric_check(metric)
    if tenant is None and partner is None:
        raise ValidationError("Usage is counted for a tenant or a partner.")
    partner_id = partner.pk if partner is not None else tenant.partner_id
    day = day or timezone.now().date()
    table = UsageRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO public.{table} (partner_id, tenant_id, day, metric, count)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (partner_id, tenant_id, day, metric)
            DO UPDATE SET count = public.{table}.count + EXCLUDED.count
            """,
            [partner_id, tenant.pk if tenant is not None else None, day, metric, amount],
        )


def usage_count(*, metric: str, amount: int = 1) -> None:
    """Count `amount` of `metric` for the tenant whose schema is active, once the caller's
    transaction commits: called where the work is first written (a created order, a new journal, an
    acknowledged push), so a replay that writes nothing counts nothing and a rolled-back attempt
    counts nothing. The count reaches UsageRecord with the next `usage_flush`. Nothing is counted in
    the public schema (its tenant has no partner)."""
    _metric_check(metric)
    ids = _current_tenant_ids()
    if ids is None:
        return
    field = f"{ids[0]}:{ids[1]}:{timezone.now().date().isoformat()}:{metric}"
    transaction.on_commit(partial(_pending_add, field=field, amount=amount))


def _current_tenant_ids() -> tuple[int, int] | None:
    """(partner id, tenant id) of the active schema: the tenant django-tenants activated (no query),
    or one lookup by schema name when only the schema was set."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant) and tenant.schema_name == connection.schema_name:
        return (tenant.partner_id, tenant.pk) if tenant.partner_id else None
    row = Tenant.objects.filter(schema_name=connection.schema_name, partner__isnull=False).values_list(
        "partner_id", "pk"
    )
    return row.first()


USAGE_PENDING_KEY = "tb:usage:pending"
USAGE_FLUSHING_PREFIX = "tb:usage:flushing:"
USAGE_FLUSHING_SET = "tb:usage:flushing"  # the names of the flushing keys not yet deleted
FLUSHES_KEPT = timedelta(days=7)


def _pending_add(*, field: str, amount: int) -> None:
    """HINCRBY the pending hash; if Redis is down, write the row directly (the caller's transaction
    has committed, so this runs in autocommit) rather than lose the count."""
    try:
        get_redis_connection("default").hincrby(USAGE_PENDING_KEY, field, amount)
    except Exception:  # Redis down: never lose a billed count, never fail the committed caller
        log.warning("tenants.usage_pending_failed", field=field, exc_info=True)
        _rows_upsert([(*field.split(":", 3), amount)])


def usage_flush() -> int:
    """Move the pending counters into UsageRecord, exactly once even across a crash. The pending
    hash is RENAMEd (atomic: later counts start a new hash) to `…:flushing:<uuid>`; each flushing key
    is listed in the USAGE_FLUSHING_SET in the same MULTI (so the flushing keys are found without
    scanning the cache database), then applied in one transaction that records its uuid in UsageFlush
    (unique) and upserts its counts, and only then deleted and unlisted. A flushing key left by a crash
    whose uuid is recorded was applied already and is just deleted; one whose uuid is not recorded is
    applied now. Returns how many counters were added."""
    redis = get_redis_connection("default")
    _pending_rename(redis, f"{USAGE_FLUSHING_PREFIX}{uuid.uuid4().hex}")
    added = 0
    for key in sorted(redis.smembers(USAGE_FLUSHING_SET)):
        name = key.decode() if isinstance(key, bytes) else key
        added += _flushing_apply(redis, name)
        _flushing_done(redis, name)
    UsageFlush.objects.filter(flushed_at__lt=timezone.now() - FLUSHES_KEPT).delete()
    return added


def _pending_rename(redis, key: str) -> None:
    """RENAME the pending hash to `key` and list `key` in the flushing set, both or neither."""
    pipe = redis.pipeline()  # MULTI … EXEC: a crash cannot leave a flushing key that is not listed
    pipe.rename(USAGE_PENDING_KEY, key)
    pipe.sadd(USAGE_FLUSHING_SET, key)
    renamed, _ = pipe.execute(raise_on_error=False)
    if isinstance(renamed, ResponseError):  # no such key: nothing was counted since the last flush
        redis.srem(USAGE_FLUSHING_SET, key)  # (a crash before this SREM lists a key with no hash)


def _flushing_apply(redis, key: str) -> int:
    """Apply one flushing key's counters unless its flush id is recorded already. A listed key with
    no hash (deleted after its flush, or never renamed into) has nothing to apply."""
    counts = redis.hgetall(key)
    if not counts:
        return 0
    rows = []
    for field, value in counts.items():
        text = field.decode() if isinstance(field, bytes) else field
        rows.append((*text.split(":", 3), int(value)))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO public.{UsageFlush._meta.db_table} (flush_id, fields, flushed_at)
                VALUES (%s, %s, now()) ON CONFLICT (flush_id) DO NOTHING RETURNING id
                """,
                [key.removeprefix(USAGE_FLUSHING_PREFIX), len(rows)],
            )
            if cursor.fetchone() is None:
                return 0  # applied before a crash that left the key: only the DEL is missing
        _rows_upsert(rows)
    log.info("tenants.usage_flushed", key=key, counters=len(rows))
    return len(rows)


def _flushing_done(redis, key: str) -> None:
    redis.pipeline().delete(key).srem(USAGE_FLUSHING_SET, key).execute()


def _rows_upsert(rows: list[tuple]) -> None:
    """Add (partner id, tenant id, ISO day, metric, count) rows in one statement, in key order (no
    deadlock between two writers); a tenant deleted since it was counted is skipped."""
    if not rows:
        return
    rows = sorted(rows)
    table, tenants = UsageRecord._meta.db_table, Tenant._meta.db_table
    columns = [[int(row[0]) for row in rows], [int(row[1]) for row in rows]]
    columns += [[date.fromisoformat(row[2]) for row in rows], [row[3] for row in rows], [row[4] for row in rows]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO public.{table} (partner_id, tenant_id, day, metric, count)
            SELECT v.partner_id, v.tenant_id, v.day, v.metric, v.count
            FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::text[], %s::bigint[])
                AS v(partner_id, tenant_id, day, metric, count)
            JOIN public.{tenants} t ON t.id = v.tenant_id AND t.partner_id = v.partner_id
            ORDER BY v.partner_id, v.tenant_id, v.day, v.metric
            ON CONFLICT (partner_id, tenant_id, day, metric)
            DO UPDATE SET count = public.{table}.count + EXCLUDED.count
            """,
            columns,
        )


def usage_gauge_set(*, metric: str, value: int) -> None:
    """Set today's value of a gauge metric (active connections) for the active tenant schema, in the
    caller's transaction (a periodic job, off the hot path): running it again the same day
    overwrites, never adds."""
    _current_tenant_write(metric=metric, value=value)


def _current_tenant_write(*, metric: str, value: int) -> None:
    """One statement, no tenant lookup: today's row of the active schema's tenant, overwritten.
    Nothing is written in the public schema (its tenant has no partner)."""
    _metric_check(metric)
    table = UsageRecord._meta.db_table
    tenants = Tenant._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO public.{table} (partner_id, tenant_id, day, metric, count)
            SELECT t.partner_id, t.id, %s, %s, %s FROM public.{tenants} t
            WHERE t.schema_name = %s AND t.partner_id IS NOT NULL
            ON CONFLICT (partner_id, tenant_id, day, metric)
            DO UPDATE SET count = EXCLUDED.count
            """,
            [timezone.now().date(), metric, value, connection.schema_name],
        )


def usage_for_partner(
    *, partner: Partner, start: date, end: date, tenant: Tenant | None = None
) -> QuerySet[UsageRecord]:
    """Daily rows between `start` and `end` inclusive, for the partner's tenants and itself."""
    rows = UsageRecord.objects.filter(partner=partner, day__gte=start, day__lte=end).select_related("tenant")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.order_by("-day", "tenant__slug", "metric", "-id")


@dataclass(frozen=True)
class UsageRow:
    label: str
    slug: str
    counts: dict[str, int]


def usage_month_table(*, partner: Partner, start: date, end: date) -> list[UsageRow]:
    """One row per tenant (and one for partner-level calls) with the total of each metric."""
    totals = (
        UsageRecord.objects.filter(partner=partner, day__gte=start, day__lte=end)
        .values("tenant__slug", "tenant__name", "metric")
        .annotate(total=Sum("count"), peak=Max("count"))
        .order_by()
    )
    rows: dict[str, UsageRow] = {}
    for tenant in Tenant.objects.filter(partner=partner).order_by("name"):
        rows[tenant.slug] = UsageRow(label=tenant.name, slug=tenant.slug, counts=dict.fromkeys(METRICS, 0))
    for item in totals:
        slug = item["tenant__slug"] or ""
        if slug not in rows:
            rows[slug] = UsageRow(label="Partner API", slug="", counts=dict.fromkeys(METRICS, 0))
        gauge = item["metric"] in UsageRecord.GAUGES
        rows[slug].counts[item["metric"]] += item["peak"] if gauge else item["total"]
    return list(rows.values())


def usage_csv(*, records: QuerySet[UsageRecord]) -> str:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["day", "tenant", "metric", "count"])
    for record in records:
        writer.writerow(
            [record.day.isoformat(), record.tenant.slug if record.tenant else "", record.metric, record.count]
        )
    return out.getvalue()
