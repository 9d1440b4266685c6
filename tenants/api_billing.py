"""Partner API for billing: rate cards per plan and the monthly statements priced from them
(tenants.billing). Statements come as JSON or, with `?format=csv`, as the console's CSV."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer
from core.api.serializers import ModelOutput
from core.api.views import (
    FileFormatNegotiation,
    PartnerApiView,
    json_or_csv,
    read_operation,
    write_operation,
)
from core.views import attachment
from tenants.api.tenants import partner_tenant_or_all
from tenants.billing import rate_card_set, rate_cards_for_partner, statements_csv, statements_for_month
from tenants.models import Membership, RateCard, Tenant, UsageRecord
from tenants.usage import METRICS


class RateCardLineSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=UsageRecord.Metric.choices)
    included = serializers.IntegerField(min_value=0)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0)


class RateCardOutput(ModelOutput):
    lines = serializers.SerializerMethodField()

    class Meta:
        model = RateCard
        fields = ("plan", "currency", "monthly_fee", "lines")

    @extend_schema_field(RateCardLineSerializer(many=True))
    def get_lines(self, card) -> list[dict]:  # every metric, zero where the card has no price
        priced = {line.metric: line for line in card.lines.all()} if card.pk else {}
        return [
            {
                "metric": metric,
                "included": priced[metric].included if metric in priced else 0,
                "unit_price": str(priced[metric].unit_price) if metric in priced else "0.0000",
            }
            for metric in METRICS
        ]


class RateCardInput(StrictSerializer):
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217 code, e.g. USD.")
    monthly_fee = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0)
    lines = RateCardLineSerializer(many=True, required=False, default=list)

    def validate_lines(self, lines: list[dict]) -> list[dict]:
        metrics = [line["metric"] for line in lines]
        if len(metrics) != len(set(metrics)):
            raise serializers.ValidationError("Each metric at most once.")
        return lines


class RateCardListApi(PartnerApiView):
    serializer_class = RateCardOutput
    pagination_class = None  # one card per plan: a short, fixed list
    queryset = Tenant.objects.none()

    @read_operation("rate_cards_list", RateCardOutput(many=True))
    def get(self, request: Request) -> Response:
        """List the partner's rate cards, one per plan, with a price for every metric."""
        cards = rate_cards_for_partner(partner=request.partner)
        return Response(RateCardOutput(list(cards.values()), many=True).data)


class RateCardDetailApi(PartnerApiView):
    serializer_class = RateCardOutput
    admin_scope = True
    session_roles = (Membership.Role.PARTNER_ADMIN,)

    @write_operation(
        "rate_card_update",
        RateCardInput,
        RateCardOutput,
        examples=[
            OpenApiExample(
                "Growth plan",
                value={
                    "currency": "USD",
                    "monthly_fee": "99.00",
                    "lines": [{"metric": "orders_ingested", "included": 1000, "unit_price": "0.0500"}],
                },
                request_only=True,
            )
        ],
    )
    def put(self, request: Request, plan: str) -> Response:
        """Replace the rate card of one plan (partner admins only); audited."""
        if plan not in Tenant.Plan.values:
            raise exceptions.NotFound("No such plan.")
        values = self.validated(RateCardInput)
        card = rate_card_set(
            partner=request.partner,
            plan=plan,
            currency=values["currency"],
            monthly_fee=values["monthly_fee"],
            lines={line["metric"]: (line["included"], line["unit_price"]) for line in values["lines"]},
            **self.who() or "",
        )
        return Response(RateCardOutput(card).data)


class StatementLineOutput(serializers.Serializer):
    metric = serializers.CharField()
    used = serializers.IntegerField()
    included = serializers.IntegerField()
    billable = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=4)
    amount = serializers.DecimalField(max_digits=14, decimal_places=4, coerce_to_string=True)


class StatementOutput(serializers.Serializer):
    tenant = serializers.SlugField(source="tenant_slug")
    plan = serializers.CharField()
    month = serializers.CharField()
    currency = serializers.CharField()
    monthly_fee = serializers.DecimalField(max_digits=14, decimal_places=4)
    lines = StatementLineOutput(many=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=4)


class StatementQuery(serializers.Serializer):
    month = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM (default: this month)."
    )
    tenant = serializers.SlugField(required=False)
    format = serializers.ChoiceField(choices=[("json", "json"), ("csv", "csv")], required=False, default="json")


class StatementListApi(PartnerApiView):
    serializer_class = StatementOutput
    pagination_class = None  # one statement per tenant for one month
    content_negotiation_class = FileFormatNegotiation
    queryset = Tenant.objects.none()

    @extend_schema(
        operation_id="usage_statements_list",
        parameters=[StatementQuery],
        responses=json_or_csv(StatementOutput(many=True)),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        """Usage statements for one month, one per tenant, as JSON or CSV."""
        values = self.validated(StatementQuery, data=request.query_params)
        if values.get("month"):
            year, month = (int(part) for part in values["month"].split("-"))
            start = dt.date(year, month, 1)
        else:
            start = timezone.now().date().replace(day=1)
        tenant = partner_tenant_or_all(request, values.get("tenant"))
        statements = statements_for_month(partner=request.partner, month=start, tenant=tenant)
        if values["format"] == "csv":
            return attachment(statements_csv(statements=statements), filename=f"statements-{start:%Y-%m}.csv")
        return Response(StatementOutput(statements, many=True).data)


urlpatterns = [
    path("usage/rate-cards/", RateCardListApi.as_view(), name="api-rate-cards"),
    path("usage/rate-cards/<str:plan>/", RateCardDetailApi.as_view(), name="api-rate-card-detail"),
    path("usage/statements/", StatementListApi.as_view(), name="api-usage-statements"),
]
