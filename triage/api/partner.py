"""Exceptions API on the partner console: the partner-wide list (read from the public TriageIndex
only) and the alert rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, error_responses, found
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, PartnerApiView, read_operation, write_operation
from tenants.selectors import partner_tenants
from triage.api.exceptions import (
    GROUP_STATE_FIELDS,
    ORDERINGS,
    PAGE_SIZE_DOC,
    ExceptionGroupOutput,
    ExceptionQueryBase,
    query_filters,
)
from triage.models import FixClass, Kind, Severity, Status
from triage.partner import services as rules
from triage.partner.models import AlertRule, TriageIndex
from triage.partner.selectors import alert_rules_for_partner, partner_triage_index
from triage.views_partner import tenant_exception_url

# ---- partner-wide list ----------------------------------------------------------------------


class PartnerExceptionOutput(ExceptionGroupOutput):
    tenant = serializers.SlugField(source="tenant.slug")
    tenant_name = serializers.CharField(source="tenant.name")
    kind = serializers.ChoiceField(choices=Kind.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    fix_class = serializers.ChoiceField(choices=FixClass.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    url = serializers.SerializerMethodField(help_text="The exception's page on the tenant's domain.")
    api_path = serializers.SerializerMethodField(help_text="Its API detail, on this partner host.")

    class Meta:
        model = TriageIndex
        fields = (
            "tenant",
            "tenant_name",
            "exception_id",
            "kind",
            "severity",
            "fix_class",
            "status",
            "title",
            *GROUP_STATE_FIELDS,
            "money_at_risk",
            "money_currency",
            "url",
            "api_path",
        )

    @extend_schema_field(serializers.CharField())
    def get_url(self, row: TriageIndex) -> str:
        return tenant_exception_url(self.context["request"], domain=row.tenant_domain, exception_id=row.exception_id)

    @extend_schema_field(serializers.CharField())
    def get_api_path(self, row: TriageIndex) -> str:
        return f"/api/v1/tenants/{row.tenant.slug}/exceptions/{row.exception_id}/"


class PartnerExceptionQuery(ExceptionQueryBase):
    tenant = serializers.SlugField(required=False)
    assignee = serializers.CharField(required=False, max_length=254, help_text="An email or `none`.")


class PartnerExceptionListApi(PartnerApiView):
    serializer_class = PartnerExceptionOutput
    ordering = ORDERINGS["sla_due"]
    queryset = TriageIndex.objects.none()

    @read_operation(
        "partner_exceptions_list",
        PartnerExceptionOutput(many=True),
        parameters=[PartnerExceptionQuery],
        summary="List exception groups across the partner's tenants",
        description="Every exception group of the partner's tenants, from the public index (no tenant schema is "
        f"queried). {PAGE_SIZE_DOC}",
    )
    def get(self, request: Request) -> Response:
        values = self.validated(PartnerExceptionQuery, data=request.query_params)
        rows = partner_triage_index(
            partner=request.partner, tenant_slug=values.get("tenant", ""), **query_filters(values)
        )
        self.ordering = ORDERINGS[values["ordering"]]
        return self.page_of(PartnerExceptionOutput, rows)


# ---- alert rules (partner console) ----------------------------------------------------------


THRESHOLD_HELP = (
    "N: occurrences (count_over), minutes (backlog_age, erp_unreachable), seconds (sync_latency, "
    "worker_heartbeat), or the fewest orders a channel usually sends in that hour (channel_silence)."
)


class AlertRuleOutput(ModelOutput):
    tenant = serializers.SlugField(source="tenant.slug", allow_null=True, help_text="null: every tenant.")
    threshold = serializers.IntegerField(help_text=THRESHOLD_HELP)
    window_minutes = serializers.IntegerField(help_text="M minutes, for count_over and sync_latency.")
    emails = serializers.ListField(child=serializers.EmailField())

    class Meta:
        model = AlertRule
        fields = (
            "id",
            "name",
            "tenant",
            "trigger",
            "threshold",
            "window_minutes",
            "emails",
            "webhook",
            "active",
            "created_at",
        )


class AlertRuleCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    trigger = serializers.ChoiceField(choices=AlertRule.Trigger.choices)
    tenant = serializers.SlugField(required=False, allow_null=True, default=None, help_text="Omit for every tenant.")
    threshold = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0, help_text=THRESHOLD_HELP)
    window_minutes = serializers.IntegerField(min_value=1, max_value=7 * 24 * 60, default=60)
    emails = serializers.ListField(child=serializers.EmailField(), max_length=20, default=list)
    webhook = serializers.BooleanField(default=True)


@extend_schema_view(get=read_operation("alert_rules_list", AlertRuleOutput(many=True)))
class AlertRuleListCreateApi(ListMixin, PartnerApiView):
    """List the partner's alert rules: which exceptions notify whom, and how."""

    serializer_class = AlertRuleOutput
    admin_scope = True
    queryset = AlertRule.objects.none()

    schema_model = AlertRule

    def rows(self):
        return alert_rules_for_partner(partner=self.request.partner)

    @write_operation(
        "alert_rules_create",
        AlertRuleCreateInput,
        AlertRuleOutput,
        status=201,
        examples=[
            OpenApiExample(
                "Critical to the on-call inbox",
                value={"name": "Critical", "trigger": "critical", "emails": ["oncall@partner.example"]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """Create an alert rule that notifies a channel when matching exceptions are raised."""
        data = self.validated(AlertRuleCreateInput)
        values = dict(data)
        slug = values.pop("tenant")
        tenant = None
        if slug:
            tenant = partner_tenants(partner=request.partner).filter(slug=slug).first()
            if tenant is None:
                raise exceptions.ValidationError({"tenant": [f"You have no tenant {slug!r}."]})
        try:
            rule = rules.alert_rule_create(partner=request.partner, tenant=tenant, **self.who(), **values)
        except DjangoValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from error
        return Response(AlertRuleOutput(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDeactivateApi(PartnerApiView):
    serializer_class = AlertRuleOutput
    admin_scope = True
    queryset = AlertRule.objects.none()

    @extend_schema(
        operation_id="alert_rules_deactivate", responses={200: AlertRuleOutput, **error_responses(401, 403, 404, 429)}
    )
    def delete(self, request: Request, pk: int) -> Response:
        """Deactivate an alert rule; it stops notifying and stays listed as inactive."""
        rule = found(alert_rules_for_partner(partner=request.partner).filter(pk=pk).first(), "No such alert rule.")
        return Response(AlertRuleOutput(rules.alert_rule_deactivate(rule=rule, **self.who())).data)
