"""Usage metering for billing: daily counters per partner, tenant and metric.

`usage_increment` is one INSERT … ON CONFLICT DO UPDATE, so concurrent increments never lose a
count and never collide on the unique row. Partner-level API calls are counted with tenant NULL
(the unique constraint treats NULLs as equal)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from core.spreadsheet import csv_writer
from tenants.models import Partner, Tenant, UsageRecord

METRICS = tuple(UsageRecord.Metric.values)


def usage_increment(
    *,
    metric: str,
    tenant: Tenant | None = None,
    partner: Partner | None = None,
    amount: int = 1,
    day: date | None = None,
) -> None:
    if metric not in METRICS:
        raise ValidationError({"metric": f"{metric!r} is not a usage metric."})
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
    """Count `amount` of `metric` for the tenant whose schema is active, in the caller's transaction:
    called where the work is first written (a created order, a new journal, an acknowledged push),
    so a replay that writes nothing counts nothing and a rolled-back attempt un-counts itself."""
    _current_tenant_write(metric=metric, value=amount, add=True)


def usage_gauge_set(*, metric: str, value: int) -> None:
    """Set today's value of a gauge metric (active connections) for the active tenant schema:
    running it again the same day overwrites, never adds."""
    _current_tenant_write(metric=metric, value=value, add=False)


def _current_tenant_write(*, metric: str, value: int, add: bool) -> None:
    """One statement, no tenant lookup: today's row of the active schema's tenant, added to or
    overwritten. Nothing is counted in the public schema (its tenant has no partner)."""
    if metric not in METRICS:
        raise ValidationError({"metric": f"{metric!r} is not a usage metric."})
    table = UsageRecord._meta.db_table
    tenants = Tenant._meta.db_table
    update = f"public.{table}.count + EXCLUDED.count" if add else "EXCLUDED.count"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO public.{table} (partner_id, tenant_id, day, metric, count)
            SELECT t.partner_id, t.id, %s, %s, %s FROM public.{tenants} t
            WHERE t.schema_name = %s AND t.partner_id IS NOT NULL
            ON CONFLICT (partner_id, tenant_id, day, metric)
            DO UPDATE SET count = {update}
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
