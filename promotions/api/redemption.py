"""Promotions API: redemption per channel and version, the per-order CSV, vendor claims and what
was received against them (issue 20). Dates are local dates in the tenant's zone."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import StrictSerializer, found
from core.api.views import (
    IDEMPOTENCY_PARAMETER,
    READ_ERRORS,
    WRITE_ERRORS,
    FileFormatNegotiation,
    TenantApiView,
    read_operation,
    write_operation,
)
from core.models import MONEY
from core.tenancy import tenant_zone
from core.views import attachment
from promotions import claims, redemption, selectors
from promotions.models import Promotion, VendorClaim

RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First local day included (default: 30 days ago)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last local day included (default: today)."),
]


def _promotion(pk: int) -> Promotion:
    return found(selectors.promotion_get(pk=pk), "No such promotion.")


def _claim(promotion: Promotion, claim_id: int) -> VendorClaim:
    return found(claims.vendor_claim_get(promotion=promotion, pk=claim_id), "No such claim.")


class RangeQuery(serializers.Serializer):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs: dict) -> dict:
        end = attrs.get("end") or dt.datetime.now(tenant_zone()).date()
        start = attrs.get("start") or redemption.default_start(end)
        for name, day in (("start", start), ("end", end)):
            if not redemption.FIRST_DAY <= day <= redemption.LAST_DAY:
                raise serializers.ValidationError(
                    {name: [f"A day from {redemption.FIRST_DAY} to {redemption.LAST_DAY}."]}
                )
        if start > end:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if (end - start).days >= redemption.MAX_DAYS:
            raise serializers.ValidationError({"end": [f"At most {redemption.MAX_DAYS} days."]})
        return {"start": start, "end": end}


class RedemptionTotalOutput(serializers.Serializer):
    currency = serializers.CharField()
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    discount = serializers.DecimalField(**MONEY)
    vendor_funded = serializers.DecimalField(**MONEY)


class RedemptionChannelVersion(serializers.Serializer):
    channel_id = serializers.IntegerField(allow_null=True, help_text="The orders' source connection.")
    channel = serializers.CharField()
    version = serializers.IntegerField()


class RedemptionRowOutput(RedemptionChannelVersion, RedemptionTotalOutput):
    pass  # a channel and version, then the same figures as a total (fields in that order)


class RedemptionOutput(serializers.Serializer):
    promotion = serializers.IntegerField(source="promotion.pk")
    start = serializers.DateField()
    end = serializers.DateField()
    zone = serializers.CharField()
    rows = RedemptionRowOutput(many=True)
    totals = RedemptionTotalOutput(many=True)


class RedemptionApi(TenantApiView):
    serializer_class = RedemptionOutput

    @read_operation(
        "promotion_redemptions",
        RedemptionOutput,
        summary="Redemption of a promotion per channel and version",
        description="Orders, units, discount given and the vendor-funded amount per channel (the orders' "
        "source connection) and promotion version, per currency, for orders redeemed from `start` to `end` "
        "(local days in the tenant's zone), with the totals per currency.",
        parameters=RANGE_PARAMETERS,
    )
    def get(self, request: Request, pk: int) -> Response:
        promotion = _promotion(pk)
        period = self.validated(RangeQuery, data=request.query_params)
        zone = tenant_zone()
        report = redemption.promotion_redemptions(promotion=promotion, tz=zone, **period)
        return Response(RedemptionOutput(report).data)


class RedemptionCsvApi(TenantApiView):
    serializer_class = RangeQuery
    pagination_class = None
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        operation_id="promotion_redemptions_csv",
        summary="Vendor-funded redemptions as CSV, one row per order",
        description="The orders redeemed from `start` to `end` with a vendor-funded discount from the "
        "promotion: order number, local date, channel, version, SKUs, units, discount, vendor-funded "
        "amount and currency. Claims export the same rows for their period.",
        parameters=RANGE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR, **READ_ERRORS},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        promotion = _promotion(pk)
        period = self.validated(RangeQuery, data=request.query_params)
        text = claims.redemptions_csv(promotion=promotion, tz=tenant_zone(), **period)
        return attachment(text, filename=f"{promotion.key}-redemptions-{period['start']}-{period['end']}.csv")


class ClaimOutput(serializers.Serializer):
    id = serializers.IntegerField(source="claim.pk")
    promotion = serializers.IntegerField(source="claim.promotion_id")
    vendor_ref = serializers.CharField(source="claim.vendor_ref")
    period_start = serializers.DateField(source="claim.period_start")
    period_end = serializers.DateField(source="claim.period_end")
    currency = serializers.CharField(source="claim.currency")
    orders = serializers.IntegerField(source="claim.orders")
    claimed = serializers.DecimalField(source="claim.amount", **MONEY)
    received = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    overdue_on = serializers.DateField(help_text="Raised into triage from this day when still underpaid.")
    created_by = serializers.CharField(source="claim.author_email")
    created_at = serializers.DateTimeField(source="claim.created_at")
    exported_at = serializers.DateTimeField(source="claim.exported_at", allow_null=True)


class ClaimInput(StrictSerializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()


class ClaimsOutput(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when the period was claimed before: the same claims.")
    claims = ClaimOutput(many=True)


def _states(promotion: Promotion, made: list[VendorClaim]) -> list[claims.ClaimState]:
    """The claims `made`, with their received and outstanding amounts (one read of the promotion's)."""
    wanted = {claim.pk for claim in made}
    return [state for state in claims.claim_states(promotion=promotion) if state.claim.pk in wanted]


class ClaimListCreateApi(TenantApiView):
    serializer_class = ClaimOutput
    pagination_class = None
    schema_model = VendorClaim

    @read_operation(
        "promotion_claims_list",
        ClaimOutput(many=True),
        summary="The promotion's vendor claims",
        description="Every claim, newest period first, with claimed, received and outstanding amounts.",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(ClaimOutput(claims.claim_states(promotion=_promotion(pk)), many=True).data)

    @extend_schema(
        operation_id="promotion_claims_create",
        summary="Claim a period's vendor-funded discounts",
        description="One claim per currency for the orders redeemed in the period (local days, both "
        "included, ended by yesterday). Claiming the same period again returns its claims (200, "
        "`created` false); a period overlapping another claim's is refused.",
        request=ClaimInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ClaimsOutput, 200: ClaimsOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        promotion = _promotion(pk)
        data = self.validated(ClaimInput)
        made, created = claims.vendor_claim_create(promotion=promotion, tz=tenant_zone(), **data, **self.who())
        body = ClaimsOutput({"created": created, "claims": _states(promotion, made)}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ClaimExportApi(TenantApiView):
    serializer_class = ClaimOutput
    pagination_class = None
    content_negotiation_class = FileFormatNegotiation

    @extend_schema(
        operation_id="promotion_claim_export",
        summary="Export a vendor claim as CSV",
        description="One row per order of the claim's period and currency (order number, local date, "
        "channel, version, SKUs, units, discount, vendor-funded amount). The first export is recorded on "
        "the claim.",
        responses={(200, "text/csv"): OpenApiTypes.STR, **READ_ERRORS},
    )
    def get(self, request: Request, pk: int, claim_id: int) -> HttpResponse:
        claim = _claim(_promotion(pk), claim_id)
        text = claims.vendor_claim_export(claim=claim, tz=tenant_zone())
        return attachment(text, filename=claims.vendor_claim_filename(claim))


class ReceiptInput(StrictSerializer):
    amount = serializers.DecimalField(**MONEY)
    received_on = serializers.DateField()
    reference = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class ReceiptApi(TenantApiView):
    serializer_class = ClaimOutput

    @write_operation(
        "promotion_claim_receipt",
        ReceiptInput,
        ClaimOutput,
        status=201,
        summary="Record an amount received against a vendor claim",
        description="What the vendor paid: above zero and at most the outstanding amount. Answers the claim "
        "with its received and outstanding amounts.",
    )
    def post(self, request: Request, pk: int, claim_id: int) -> Response:
        promotion = _promotion(pk)
        claim = _claim(promotion, claim_id)
        data = self.validated(ReceiptInput)
        claims.claim_receipt_record(claim=claim, **data, **self.who())
        (state,) = _states(promotion, [claim])
        return Response(ClaimOutput(state).data, status=status.HTTP_201_CREATED)
