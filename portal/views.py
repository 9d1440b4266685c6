from collections.abc import Callable

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from commerce import selectors as commerce_selectors
from core.api.errors import api_error_response
from portal.dashboard import (
    discount_reconciliation_cycle,
    orders_and_postings_per_day,
    reconciliation_cycle,
)
from portal.health import health_check
from portal.kpis import TenantKpis, tenant_kpis
from portal.kpis_partner import TenantKpiRow, partner_kpis
from portal.trace import order_trace
from posting.selectors import batches_waiting
from tenants.models import Membership
from tenants.selectors import audit_events_for_tenant, tenant_members


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = health_check()
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)


def tenant_home(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    activity = orders_and_postings_per_day(tz_name=tenant.timezone, days=30)
    kpis = tenant_kpis(days=30)
    return render(
        request,
        "portal/tenant_home.html",
        {
            "tenant": tenant,
            "activity_chart": {
                "labels": [label[5:] for label in activity.labels],
                "datasets": [
                    {"label": "Orders", "data": activity.series["orders"]},
                    {"label": "Journal entries", "data": activity.series["journals"]},
                ],
            },
            "orders_30d": sum(activity.series["orders"]),
            "journals_30d": sum(activity.series["journals"]),
            "kpis": kpis,
            "backlog": kpis.journal_backlog,
            "batches_waiting": batches_waiting(),
            "now": timezone.now(),
            "events_waiting": kpis.event_backlog,
            "latency": kpis.sync_latency,
            "breaches": kpis.sla_breaches,
            "reconciliation": reconciliation_cycle(),
            "discount_reconciliation": discount_reconciliation_cycle(),
            "membership_role_label": Membership.Role(request.membership_role).label,
            "members": tenant_members(tenant=tenant),
            "audit_events": audit_events_for_tenant(tenant=tenant, limit=20),
        },
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_error_response(request, status_code=404, code="not_found", message="Not found.")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_error_response(request, status_code=500, code="server_error", message="Server error.")
    return render(request, "500.html", {"request_id": getattr(request, "request_id", "")}, status=500)


@require_GET
def orders(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(commerce_selectors.orders_search(search=search), 50).get_page(request.GET.get("page"))
    return render(request, "portal/orders.html", {"page": page, "search": search})


@require_GET
def order_trace_page(request: HttpRequest, order_id: int) -> HttpResponse:
    trace = order_trace(order_id=order_id)
    if trace is None:
        raise Http404("No such order.")
    return render(request, "portal/order_trace.html", {"trace": trace, "order": trace.order})


def _per_tenant_chart(rows: list[TenantKpiRow], **datasets: Callable[[TenantKpis], float | None]) -> dict:
    """One bar per tenant and dataset (label → the value read from each tenant's KPIs)."""
    return {
        "labels": [row.tenant.name for row in rows],
        "datasets": [{"label": label, "data": [read(row.kpis) for row in rows]} for label, read in datasets.items()],
    }


def _partner_kpi_charts(rows: list[TenantKpiRow]) -> dict[str, dict]:
    return {
        "interventions": _per_tenant_chart(
            rows, **{"Manual interventions per 1,000 orders": lambda k: k.manual_interventions.per_1000_orders}
        ),
        "exceptions": _per_tenant_chart(
            rows, **{"Order exceptions per 1,000 orders": lambda k: k.exceptions.per_1000_orders}
        ),
        "perfect": _per_tenant_chart(rows, **{"Perfect orders %": lambda k: k.perfect_orders.percent}),
        "inventory": _per_tenant_chart(
            rows,
            **{
                "Inventory sync p50 (s)": lambda k: k.inventory_sync.p50_seconds,
                "Inventory sync p95 (s)": lambda k: k.inventory_sync.p95_seconds,
            },
        ),
        "activation": _per_tenant_chart(
            rows,
            **{"Activation accuracy %": lambda k: round(k.activation.share * 100, 1) if k.activation.checked else None},
        ),
        "latency": _per_tenant_chart(
            rows,
            **{
                "Sync latency p50 (s)": lambda k: k.sync_latency.p50_seconds,
                "Sync latency p95 (s)": lambda k: k.sync_latency.p95_seconds,
            },
        ),
    }


@require_GET
def partner_kpis_page(request: HttpRequest) -> HttpResponse:
    """Partner console: each KPI across the partner's tenants, a chart per KPI and a row per tenant."""
    if request.portal_area != "partner":
        raise Http404("Not found")
    kpis = partner_kpis(partner=request.partner, days=30)
    return render(request, "portal/partner_kpis.html", {"kpis": kpis, "charts": _partner_kpi_charts(kpis.rows)})
