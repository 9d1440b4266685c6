"""The partner roll-up of the KPIs (portal/kpis.py): every KPI of each of the partner's tenants, read
in that tenant's schema, and the partner's totals. Totals add numerators and denominators (1,000
orders of one tenant weigh as much as 1,000 of another) and pool the latency samples, so a
percentile is the partner's percentile, not an average of the tenants' ones. Only the partner's own
tenants are ever read: the list comes from `partner_tenants(partner=…)`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from portal.dashboard import percentile
from portal.kpis import PerThousand, TenantKpis, per_thousand, percent, tenant_kpis
from tenants.models import Partner, Tenant
from tenants.selectors import partner_tenants


@dataclass(frozen=True)
class TenantKpiRow:
    tenant: Tenant
    host: str | None  # the tenant's primary host, for the drill-down link
    kpis: TenantKpis


@dataclass(frozen=True)
class Pooled:
    samples: int
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class PartnerTotals:
    tenants: int
    orders: int
    manual_interventions: PerThousand
    exceptions: PerThousand
    perfect_orders: int
    perfect_orders_judged: int
    perfect_order_percent: float | None
    inventory_sync: Pooled
    offers_checked: int
    offers_matching: int
    activation_accuracy_percent: float | None
    sync_latency: Pooled


@dataclass(frozen=True)
class PartnerKpis:
    days: int
    rows: list[TenantKpiRow]
    totals: PartnerTotals


def _pooled(samples: list[float]) -> Pooled:
    ordered = sorted(samples)
    return Pooled(samples=len(ordered), p50_seconds=percentile(ordered, 0.5), p95_seconds=percentile(ordered, 0.95))


def partner_totals(rows: list[TenantKpiRow]) -> PartnerTotals:
    """The partner's totals from its tenants' KPIs (sums of counts, pooled latency samples)."""
    kpis = [row.kpis for row in rows]
    orders = sum(k.orders for k in kpis)
    interventions = sum(k.manual_interventions.count for k in kpis)
    exceptions = sum(k.exceptions.count for k in kpis)
    perfect = sum(k.perfect_orders.perfect for k in kpis)
    judged = sum(k.perfect_orders.judged for k in kpis)
    checked = sum(k.activation.checked for k in kpis)
    matching = sum(k.activation.matching for k in kpis)
    return PartnerTotals(
        tenants=len(rows),
        orders=orders,
        manual_interventions=PerThousand(interventions, orders, per_thousand(interventions, orders)),
        exceptions=PerThousand(exceptions, orders, per_thousand(exceptions, orders)),
        perfect_orders=perfect,
        perfect_orders_judged=judged,
        perfect_order_percent=percent(perfect, judged),
        inventory_sync=_pooled([value for k in kpis for value in k.inventory_sync.seconds]),
        offers_checked=checked,
        offers_matching=matching,
        activation_accuracy_percent=percent(matching, checked),
        sync_latency=_pooled([value for k in kpis for value in k.sync_latency.seconds]),
    )


def partner_kpis(*, partner: Partner, days: int = 30, now: dt.datetime | None = None) -> PartnerKpis:
    """Every KPI of each of `partner`'s tenants (active or suspended, schema provisioned), by name."""
    now = now or timezone.now()
    rows = []
    for tenant in partner_tenants(partner=partner):
        if not schema_exists(tenant.schema_name):
            continue
        primary = next((domain for domain in tenant.domains.all() if domain.is_primary), None)
        with tenant_context(tenant):
            kpis = tenant_kpis(days=days, now=now)
        rows.append(TenantKpiRow(tenant=tenant, host=primary.domain if primary else None, kpis=kpis))
    return PartnerKpis(days=days, rows=rows, totals=partner_totals(rows))
