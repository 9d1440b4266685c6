"""Tenant API for inventory: available-to-sell per SKU x location (list, per SKU with channel sums)
and safety stock updates. Thin views over commerce.selectors / commerce.inventory."""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.inventory import safety_stock_set
from commerce.models import InventoryLocation
from commerce.selectors import AtsRow, available_to_sell
from connectors.api import TenantApiView
from portal.api_auth import api_actor
from portal.api_errors import StrictSerializer
from tenants.api import IDEMPOTENCY_PARAMETER, READ_ERRORS, WRITE_ERRORS

QUANTITY = {"max_digits": 14, "decimal_places": 3}


class AtsRowOutput(serializers.Serializer):
    sku = serializers.CharField()
    location = serializers.IntegerField(source="location_id")
    location_name = serializers.CharField()
    location_kind = serializers.CharField()
    on_hand = serializers.DecimalField(**QUANTITY)
    reserved = serializers.DecimalField(**QUANTITY)
    safety = serializers.DecimalField(**QUANTITY)
    ats = serializers.DecimalField(**QUANTITY, help_text="On hand - reserved - safety; negative when oversold.")
    pushable = serializers.DecimalField(**QUANTITY, help_text="What channels are sent: ATS, never below zero.")
    oversold = serializers.BooleanField()


class ChannelAtsOutput(serializers.Serializer):
    channel_connection = serializers.IntegerField(source="channel_connection_id")
    ats = serializers.DecimalField(**QUANTITY)


class SkuOutput(serializers.Serializer):
    sku = serializers.CharField()
    locations = AtsRowOutput(many=True)
    channels = ChannelAtsOutput(many=True)


class InventoryFilterInput(serializers.Serializer):
    sku = serializers.CharField(max_length=120, required=False, help_text="Exact SKU.")
    search = serializers.CharField(max_length=120, required=False, help_text="SKUs containing this text.")
    location = serializers.IntegerField(min_value=1, max_value=2**62, required=False, help_text="Location id.")
    oversold = serializers.BooleanField(required=False, help_text="Only rows whose ATS is below zero.")


class SafetyStockInput(StrictSerializer):
    location = serializers.IntegerField(min_value=1, max_value=2**62)
    sku = serializers.CharField(max_length=120)
    quantity = serializers.DecimalField(
        **QUANTITY, min_value=0, allow_null=True, help_text="Null: back to the location's default."
    )


class _Pagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


def _location_ids(location: int | None) -> list[int] | None:
    return [location] if location is not None else None


@extend_schema(
    parameters=[
        OpenApiParameter("sku", OpenApiTypes.STR),
        OpenApiParameter("search", OpenApiTypes.STR),
        OpenApiParameter("location", OpenApiTypes.INT),
        OpenApiParameter("oversold", OpenApiTypes.BOOL),
    ]
)
class InventoryListApi(TenantApiView):
    serializer_class = AtsRowOutput
    pagination_class = _Pagination

    @extend_schema(operation_id="inventory_list", responses={200: AtsRowOutput(many=True), **READ_ERRORS})
    def get(self, request: Request) -> Response:
        filters = InventoryFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        rows: list[AtsRow] = available_to_sell(
            skus=[values["sku"]] if "sku" in values else None,
            location_ids=_location_ids(values.get("location")),
            sku_search=values.get("search"),
        ).rows
        if values.get("oversold"):
            rows = [row for row in rows if row.oversold]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AtsRowOutput(page, many=True).data)


class InventorySkuApi(TenantApiView):
    serializer_class = SkuOutput

    @extend_schema(operation_id="inventory_retrieve", responses={200: SkuOutput, **READ_ERRORS})
    def get(self, request: Request, sku: str) -> Response:
        result = available_to_sell(skus=[sku])
        if not result.rows:
            raise Http404
        return Response(SkuOutput({"sku": sku, "locations": result.rows, "channels": result.channels}).data)


class SafetyStockApi(TenantApiView):
    serializer_class = AtsRowOutput

    @extend_schema(
        operation_id="inventory_safety_stock_set",
        request=SafetyStockInput,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: AtsRowOutput, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = SafetyStockInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        location = InventoryLocation.objects.filter(pk=values["location"]).first()
        if location is None:
            raise Http404
        actor, actor_label = api_actor(request)
        safety_stock_set(
            location=location, sku=values["sku"], quantity=values["quantity"], actor=actor, actor_label=actor_label
        )
        rows = available_to_sell(skus=[values["sku"]], location_ids=[location.pk]).rows
        row = rows[0] if rows else None
        if row is None:  # a safety stock for a SKU with no stock and no orders here yet
            row = AtsRow(
                sku=values["sku"],
                location_id=location.pk,
                location_name=str(location),
                location_kind=location.kind,
                on_hand=0,
                reserved=0,
                safety=values["quantity"] if values["quantity"] is not None else location.safety_stock_default,
                ats=-(values["quantity"] or location.safety_stock_default),
            )
        return Response(AtsRowOutput(row).data)


urlpatterns = [
    path("inventory/", InventoryListApi.as_view(), name="api-inventory"),
    path("inventory/safety-stock/", SafetyStockApi.as_view(), name="api-inventory-safety"),
    path("inventory/<str:sku>/", InventorySkuApi.as_view(), name="api-inventory-sku"),
]
