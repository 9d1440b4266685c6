"""Tenant API for inventory: available-to-sell per SKU x location (list, per SKU with channel sums)
and safety stock updates. Thin views over commerce.selectors / commerce.inventory."""

from __future__ import annotations

from decimal import Decimal

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from commerce.inventory import (
    channel_location_remove,
    channel_location_set,
    inventory_location_update,
    safety_stock_set,
)
from commerce.models import QUANTITY, ChannelLocation, InventoryLevel, InventoryLocation
from commerce.selectors import (
    AtsRow,
    available_to_sell,
    inventory_location_get,
    inventory_locations_list,
    reservations_unallocated,
)
from connectors.models import Connection
from core.api.errors import OffsetPagination, StrictSerializer, found
from core.api.serializers import ModelOutput
from core.api.views import WRITE_ERRORS, TenantApiView, read_operation, write_operation
from tenants.models import Membership


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
    unallocated_reserved = serializers.DecimalField(
        **QUANTITY, help_text="Reserved by open orders with no stock location (lowers no location's ATS)."
    )


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
    session_roles = Membership.WRITER_ROLES
    serializer_class = AtsRowOutput
    queryset = InventoryLevel.objects.none()  # for the schema only: rows come from available_to_sell
    pagination_class = OffsetPagination

    @read_operation("inventory_list", AtsRowOutput(many=True))
    def get(self, request: Request) -> Response:
        """Available-to-sell per SKU and location: on hand less reservations and safety stock."""
        values = self.validated(InventoryFilterInput, data=request.query_params)
        rows: list[AtsRow] = available_to_sell(
            skus=[values["sku"]] if "sku" in values else None,
            location_ids=_location_ids(values.get("location")),
            sku_search=values.get("search"),
        ).rows
        if values.get("oversold"):
            rows = [row for row in rows if row.oversold]
        return self.page_of(AtsRowOutput, rows)


class InventorySkuApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = SkuOutput

    @read_operation("inventory_retrieve", SkuOutput)
    def get(self, request: Request, sku: str) -> Response:
        """Available-to-sell of one SKU at every location, with its reservations."""
        result = available_to_sell(skus=[sku])
        unallocated = reservations_unallocated(skus=[sku]).get(sku, Decimal(0))
        if not result.rows and not unallocated:
            raise Http404
        return Response(
            SkuOutput(
                {"sku": sku, "locations": result.rows, "channels": result.channels, "unallocated_reserved": unallocated}
            ).data
        )


class SafetyStockApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = AtsRowOutput

    @write_operation("inventory_safety_stock_set", SafetyStockInput, AtsRowOutput)
    def post(self, request: Request) -> Response:
        """Set or clear the safety stock of one SKU at one location."""
        values = self.validated(SafetyStockInput)
        location = found(InventoryLocation.objects.filter(pk=values["location"]).first())
        safety_stock_set(location=location, sku=values["sku"], quantity=values["quantity"], **self.who())
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


# ---- locations and the channels selling from them ------------------------------------------


class ChannelLocationOutput(ModelOutput):
    channel_connection = serializers.IntegerField(source="channel_connection_id")

    class Meta:
        model = ChannelLocation
        fields = ("channel_connection", "channel_location_id")


class LocationOutput(ModelOutput):
    source_connection = serializers.IntegerField(source="source_connection_id", allow_null=True)
    channels = ChannelLocationOutput(many=True, source="channel_list")

    class Meta:
        model = InventoryLocation
        fields = (
            "id",
            "source",
            "source_connection",
            "external_id",
            "name",
            "kind",
            "safety_stock_default",
            "channels",
        )


class LocationUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False)
    kind = serializers.ChoiceField(choices=InventoryLocation.Kind.choices, required=False)
    safety_stock_default = serializers.DecimalField(**QUANTITY, min_value=0, required=False)


class ChannelLocationInput(StrictSerializer):
    channel_connection = serializers.IntegerField(min_value=1, max_value=2**62)
    channel_location_id = serializers.CharField(max_length=120)


def _location(pk: int) -> InventoryLocation:
    return found(inventory_location_get(location_id=pk))


class LocationListApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = LocationOutput
    queryset = InventoryLocation.objects.none()  # for the schema only: rows come from the selector
    pagination_class = OffsetPagination

    @read_operation("inventory_locations_list", LocationOutput(many=True))
    def get(self, request: Request) -> Response:
        """List the inventory locations with their kind and default safety stock."""
        return self.page_of(LocationOutput, inventory_locations_list())


class LocationDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = LocationOutput

    @read_operation("inventory_locations_retrieve", LocationOutput)
    def get(self, request: Request, pk: int) -> Response:
        """Read one inventory location with its channel location ids."""
        return Response(LocationOutput(_location(pk)).data)

    @write_operation("inventory_locations_update", LocationUpdateInput, LocationOutput)
    def patch(self, request: Request, pk: int) -> Response:
        """Change a location's name, kind or default safety stock; audited."""
        location = _location(pk)
        data = self.validated(LocationUpdateInput)
        inventory_location_update(location=location, **self.who(), **data)
        return Response(LocationOutput(_location(pk)).data)


class LocationChannelsApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = LocationOutput

    @write_operation("inventory_locations_channel_set", ChannelLocationInput, LocationOutput)
    def post(self, request: Request, pk: int) -> Response:
        """Link a location to a sales channel's location id, so stock is written there."""
        location = _location(pk)
        data = self.validated(ChannelLocationInput)
        channel = found(Connection.objects.filter(pk=data["channel_connection"]).first())
        channel_location_set(
            channel_connection=channel,
            location=location,
            channel_location_id=data["channel_location_id"],
            **self.who(),
        )
        return Response(LocationOutput(_location(pk)).data)


class LocationChannelDetailApi(TenantApiView):
    session_roles = Membership.WRITER_ROLES
    serializer_class = LocationOutput

    @extend_schema(operation_id="inventory_locations_channel_remove", responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: int, channel: int) -> Response:
        """Unlink a location from one sales channel (204)."""
        mapping = found(ChannelLocation.objects.filter(location_id=pk, channel_connection_id=channel).first())
        channel_location_remove(mapping=mapping, **self.who())
        return Response(status=204)


# Static paths come before `inventory/<sku>/`, so "locations" and "safety-stock" are not SKUs here.
urlpatterns = [
    path("inventory/locations/", LocationListApi.as_view(), name="api-inventory-locations"),
    path("inventory/locations/<int:pk>/", LocationDetailApi.as_view(), name="api-inventory-location"),
    path("inventory/locations/<int:pk>/channels/", LocationChannelsApi.as_view(), name="api-inventory-channels"),
    path(
        "inventory/locations/<int:pk>/channels/<int:channel>/",
        LocationChannelDetailApi.as_view(),
        name="api-inventory-channel",
    ),
    path("inventory/", InventoryListApi.as_view(), name="api-inventory"),
    path("inventory/safety-stock/", SafetyStockApi.as_view(), name="api-inventory-safety"),
    path("inventory/<str:sku>/", InventorySkuApi.as_view(), name="api-inventory-sku"),
]
