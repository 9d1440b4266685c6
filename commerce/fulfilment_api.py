"""`/api/v1/fulfilments/`: shipments of the tenant's orders (read from channels or made by a
warehouse), with lines, carrier, tracking and whether the order's channel acknowledged them."""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.utils import extend_schema_view
from rest_framework import serializers

from commerce.fulfilment_selectors import fulfilments_list
from commerce.models import Fulfilment, FulfilmentLine
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, RetrieveMixin, TenantApiView, read_operation


class FulfilmentLineOutput(ModelOutput):
    line = serializers.CharField(source="order_line.external_id", help_text="The order line's external id.")
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = FulfilmentLine
        fields = ("line", "sku", "quantity")


class FulfilmentOutput(ModelOutput):
    order_external_id = serializers.CharField(source="order.external_id")
    tracking_url = serializers.CharField()  # a string as stored, not re-checked as a URL
    lines = FulfilmentLineOutput(many=True)

    class Meta:
        model = Fulfilment
        fields = (
            "id",
            "order",
            "order_external_id",
            "external_id",
            "origin",
            "fulfilled_at",
            "location",
            "carrier",
            "service",
            "tracking_number",
            "tracking_url",
            "channel_status",
            "channel_reference",
            "channel_error",
            "pushed_at",
            "acknowledged_at",
            "request",
            "lines",
        )
        extra_kwargs = {"external_id": {"help_text": "The shipment's id at its source (ShipStation shipmentId, …)."}}


class _FulfilmentApi(TenantApiView):
    """The rows and output of the fulfilment list and the fulfilment detail (no operation of its own)."""

    serializer_class = FulfilmentOutput
    schema_model = Fulfilment

    def rows(self):
        return fulfilments_list()


class FulfilmentFilter(django_filters.FilterSet):
    order = django_filters.NumberFilter(field_name="order_id")

    class Meta:
        model = Fulfilment
        fields = ["order", "origin", "channel_status"]


@extend_schema_view(
    get=read_operation(
        "fulfilments_list",
        FulfilmentOutput(many=True),
        summary="List fulfilments",
        description="Every shipment of the tenant's orders, newest first (cursor pages): the channel's own and "
        "the warehouse's (ShipStation, CSV ship confirmations) with carrier, tracking and whether the order's "
        "channel acknowledged it. Filters: `order`, `origin`, `channel_status`.",
    )
)
class FulfilmentListApi(ListMixin, _FulfilmentApi):
    ordering = ("-id",)
    filterset_class = FulfilmentFilter


@extend_schema_view(
    get=read_operation(
        "fulfilments_retrieve",
        FulfilmentOutput,
        summary="One fulfilment",
        description="A shipment with its lines, tracking and the state of its push to the order's channel.",
    )
)
class FulfilmentDetailApi(RetrieveMixin, _FulfilmentApi):
    pass


urlpatterns = [
    path("fulfilments/", FulfilmentListApi.as_view(), name="api-fulfilments"),
    path("fulfilments/<int:pk>/", FulfilmentDetailApi.as_view(), name="api-fulfilment-detail"),
]
