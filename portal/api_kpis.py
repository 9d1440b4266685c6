"""KPI API: the tenant's KPIs (`kpis/`, tenant domain; also `/api/v1/tenants/<slug>/kpis/` on the
partner console) and the partner's roll-up across its tenants (`partner-kpis/`, partner console).
Definitions: portal/kpis.py."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.views import PartnerApiView, TenantApiView, read_operation
from portal.kpis import tenant_kpis
from portal.kpis_partner import partner_kpis


class KpiQuery(serializers.Serializer):
    days = serializers.IntegerField(
        required=False, default=30, min_value=1, max_value=366, help_text="The window: the last N days (default 30)."
    )


class PerThousandOutput(serializers.Serializer):
    count = serializers.IntegerField()
    orders = serializers.IntegerField()
    per_1000_orders = serializers.FloatField(allow_null=True)


class PerfectOrdersOutput(serializers.Serializer):
    judged = serializers.IntegerField(help_text="Orders whose outcome is known (shipped, overdue or failed).")
    perfect = serializers.IntegerField()
    with_exception = serializers.IntegerField()
    late = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Not shipped, not yet due and without exception: left out.")
    ship_sla_hours = serializers.IntegerField(help_text="The tenant's promised time from payment to shipment.")
    percent = serializers.FloatField(allow_null=True)


class StockLatencyOutput(serializers.Serializer):
    changes = serializers.IntegerField()
    p50_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)


class ActivationOutput(serializers.Serializer):
    checked = serializers.IntegerField(help_text="Channel deployments whose live offer was read back.")
    matching = serializers.IntegerField(help_text="… whose live offer matched the approved version.")
    share = serializers.FloatField(allow_null=True, help_text="matching / checked, 0 to 1.")


class SyncLatencyOutput(serializers.Serializer):
    orders = serializers.IntegerField()
    p50_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)


class TenantKpiOutput(serializers.Serializer):
    days = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Orders placed in the window.")
    manual_interventions = PerThousandOutput()
    exceptions = PerThousandOutput(help_text="Order-related exceptions only.")
    perfect_orders = PerfectOrdersOutput()
    inventory_sync = StockLatencyOutput()
    activation = ActivationOutput()
    sync_latency = SyncLatencyOutput(help_text="Vendor event received → the ERP's acknowledgement.")
    event_backlog = serializers.DictField(child=serializers.IntegerField())
    journal_backlog = serializers.DictField(child=serializers.IntegerField())
    sla_breaches = serializers.DictField(child=serializers.IntegerField())


class PooledOutput(serializers.Serializer):
    samples = serializers.IntegerField()
    p50_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)


class PartnerTotalsOutput(serializers.Serializer):
    tenants = serializers.IntegerField()
    orders = serializers.IntegerField()
    manual_interventions = PerThousandOutput()
    exceptions = PerThousandOutput()
    perfect_orders = serializers.IntegerField()
    perfect_orders_judged = serializers.IntegerField()
    perfect_order_percent = serializers.FloatField(allow_null=True)
    inventory_sync = PooledOutput()
    offers_checked = serializers.IntegerField()
    offers_matching = serializers.IntegerField()
    activation_accuracy_percent = serializers.FloatField(allow_null=True)
    sync_latency = PooledOutput()


class PartnerTenantKpiOutput(serializers.Serializer):
    tenant = serializers.SlugField(source="tenant.slug")
    name = serializers.CharField(source="tenant.name")
    kpis = TenantKpiOutput()


class PartnerKpiOutput(serializers.Serializer):
    days = serializers.IntegerField()
    totals = PartnerTotalsOutput()
    tenants = PartnerTenantKpiOutput(many=True, source="rows")


TENANT_EXAMPLE = {
    "days": 30,
    "orders": 1200,
    "manual_interventions": {"count": 6, "orders": 1200, "per_1000_orders": 5.0},
    "exceptions": {"count": 18, "orders": 1200, "per_1000_orders": 15.0},
    "perfect_orders": {
        "judged": 1150,
        "perfect": 1104,
        "with_exception": 18,
        "late": 30,
        "pending": 50,
        "ship_sla_hours": 48,
        "percent": 96.0,
    },
    "inventory_sync": {"changes": 5400, "p50_seconds": 34.0, "p95_seconds": 61.0},
    "activation": {"checked": 40, "matching": 39, "share": 0.975},
    "sync_latency": {"orders": 1190, "p50_seconds": 2.1, "p95_seconds": 9.8},
    "event_backlog": {"received": 0, "processing": 1, "failed": 0},
    "journal_backlog": {"ready": 3, "pushed": 0, "failed": 0},
    "sla_breaches": {"in_window": 1, "open_now": 0},
}


class TenantKpiApi(TenantApiView):
    serializer_class = TenantKpiOutput

    @read_operation(
        "kpis_retrieve",
        TenantKpiOutput,
        parameters=[KpiQuery],
        summary="The tenant's KPIs",
        description="The tenant's KPIs over the last `days` days, as the seeds define them: manual "
        "interventions and order-related exceptions per 1,000 orders, the perfect order rate (no "
        "order exception and shipped within the promised ship time), inventory sync latency "
        "(stock change → every channel, p50/p95), promotion activation accuracy (live offers "
        "matching their approved version), sync latency (event → ERP ack), backlogs and SLA breaches.",
        examples=[OpenApiExample("Last 30 days", value=TENANT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        days = self.validated(KpiQuery, data=request.query_params)["days"]
        return Response(TenantKpiOutput(tenant_kpis(days=days)).data)


class PartnerKpiApi(PartnerApiView):
    serializer_class = PartnerKpiOutput

    @read_operation(
        "partner_kpis_retrieve",
        PartnerKpiOutput,
        parameters=[KpiQuery],
        summary="The partner's KPIs rolled up across its tenants",
        description="Every KPI of each of the partner's tenants over the last `days` days, and the partner's "
        "totals: counts are added up (rates are total count per 1,000 total orders) and latency "
        "samples pooled, so the totals' percentiles are the partner's own. Only the partner's "
        "tenants are read.",
    )
    def get(self, request: Request) -> Response:
        days = self.validated(KpiQuery, data=request.query_params)["days"]
        return Response(PartnerKpiOutput(partner_kpis(partner=request.partner, days=days)).data)


urlpatterns = [
    path("kpis/", TenantKpiApi.as_view(), name="api-kpis"),
    path("partner-kpis/", PartnerKpiApi.as_view(), name="api-partner-kpis"),
]
