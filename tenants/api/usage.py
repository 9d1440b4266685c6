"""Partner API: usage per tenant and month (JSON or CSV) and the audit log."""

from __future__ import annotations

import calendar
import datetime

import django_filters
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.deprecation import Deprecation
from core.api.serializers import ModelOutput
from core.api.views import FileFormatNegotiation, ListMixin, PartnerApiView, json_or_csv, read_operation
from core.views import attachment
from tenants import selectors
from tenants.api.tenants import partner_tenant_or_all
from tenants.models import (
    AuditEvent,
    UsageRecord,
)
from tenants.usage import usage_csv, usage_for_partner

# ---- usage ---------------------------------------------------------------------------------


class UsageOutput(ModelOutput):
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)

    class Meta:
        model = UsageRecord
        fields = ("day", "tenant", "metric", "count")


class UsageQuery(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (default: first of this month).")
    end = serializers.DateField(required=False, help_text="Last day, inclusive (default: end of this month).")
    tenant = serializers.SlugField(required=False)
    format = serializers.ChoiceField(choices=[("json", "json"), ("csv", "csv")], required=False, default="json")

    def validate(self, attrs: dict) -> dict:
        today = timezone.now().date()
        attrs.setdefault("start", today.replace(day=1))
        attrs.setdefault("end", today.replace(day=calendar.monthrange(today.year, today.month)[1]))
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if (attrs["end"] - attrs["start"]).days > 366:
            raise serializers.ValidationError({"end": ["Ask for at most 366 days at a time."]})
        return attrs


class UsageApi(PartnerApiView):
    serializer_class = UsageOutput
    ordering = ("-day", "-id")
    content_negotiation_class = FileFormatNegotiation
    queryset = UsageRecord.objects.none()

    @extend_schema(
        operation_id="usage_list",
        parameters=[UsageQuery],
        responses=json_or_csv(UsageOutput(many=True)),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        """Metered usage per tenant and metric for a period, as JSON or CSV."""
        values = self.validated(UsageQuery, data=request.query_params)
        tenant = partner_tenant_or_all(request, values.get("tenant"))
        records = usage_for_partner(partner=request.partner, start=values["start"], end=values["end"], tenant=tenant)
        if values["format"] == "csv":
            return attachment(
                usage_csv(records=records),
                filename=f"usage-{values['start'].isoformat()}-{values['end'].isoformat()}.csv",
            )
        return self.page_of(UsageOutput, records)


# ---- audit log -----------------------------------------------------------------------------


class AuditEventOutput(ModelOutput):
    actor = serializers.CharField(source="actor_label")
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, default=None)
    changes = serializers.DictField(help_text="What changed as {field: [old, new]}; secrets only as 'changed'.")

    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "tenant",
            "changes",
            "request_id",
            "created_at",
        )


class AuditEventFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant__slug")
    action = django_filters.CharFilter(
        method="filter_action", help_text='An action, or every action under a prefix ending in "." (connection.).'
    )
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", help_text="Part of an email or an api-key label."
    )
    since = django_filters.DateFilter(field_name="created_at__date", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="created_at__date", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields = ["tenant", "action", "actor", "since", "until"]

    def filter_action(self, queryset, name: str, value: str):
        return selectors.audit_events_filter(queryset, action=value)


@extend_schema_view(get=read_operation("audit_list", AuditEventOutput(many=True)))
class AuditEventListApi(ListMixin, PartnerApiView):
    """The partner's audit log, newest first: who did what to which object, and when."""

    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter

    schema_model = AuditEvent

    def rows(self):
        return selectors.audit_events_for_partner_qs(partner=self.request.partner)


class AuditEventLegacyListApi(AuditEventListApi):
    deprecated = Deprecation(
        since=datetime.date(2026, 12, 7), sunset=datetime.date(2027, 6, 30), successor="/api/v1/audit/"
    )

    @read_operation(
        "audit_events_list_legacy",
        AuditEventOutput(many=True),
        summary="The audit log under its first name (deprecated: use audit/)",
    )
    def get(self, request: Request) -> Response:
        """`audit-events/`, the first name of `audit/`: the same answer, until its Sunset date (2027-06-30)."""
        return super().get(request)
