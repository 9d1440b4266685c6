"""Tenant API of the canonical sale: orders (with lines, discounts, tax lines, shipping, payments and
fulfilments) and refunds, read-only, cursor-paginated, with `updated_since` for incremental syncs.
Thin views over commerce.selectors."""

from __future__ import annotations

import django_filters
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema_view
from rest_framework import serializers

from commerce.fulfilment_api import FulfilmentOutput
from commerce.models import DiscountAllocation, Order, OrderLine, Payment, Refund, RefundLine, ShippingLine, TaxLine
from commerce.selectors import orders_list, refunds_list
from core.api.filters import UtcIsoDateTimeFilter, updated_since_filter
from core.api.serializers import ModelOutput
from core.api.views import ListMixin, RetrieveMixin, TenantApiView, read_operation


class OrderLineOutput(ModelOutput):
    class Meta:
        model = OrderLine
        fields = (
            "id",
            "position",
            "external_id",
            "sku",
            "title",
            "product_category",
            "quantity",
            "unit_price",
            "gross",
            "discount_total",
            "net",
        )


class DiscountOutput(ModelOutput):
    class Meta:
        model = DiscountAllocation
        fields = ("position", "order_line", "code", "promotion_id", "funding", "amount")
        extra_kwargs = {"order_line": {"help_text": "Null: order-level."}}


class TaxLineOutput(ModelOutput):
    class Meta:
        model = TaxLine
        fields = ("position", "order_line", "shipping_line", "jurisdiction", "rate", "amount", "collected_by")


class ShippingLineOutput(ModelOutput):
    class Meta:
        model = ShippingLine
        fields = ("id", "position", "external_id", "code", "title", "amount")


class PaymentOutput(ModelOutput):
    class Meta:
        model = Payment
        fields = ("position", "external_id", "gateway", "method", "amount", "fee", "is_gift_card")


SOURCE_DOCUMENT_FIELDS = (
    "id",
    "source",
    "source_connection",
    "external_id",
    "source_version",
    "raw_event",
    "currency",
    "created_at",
    "updated_at",
)


# The fields every order and refund shares (commerce.models.SourceDocument, an abstract model): a
# subclass names its model and adds its own fields to SOURCE_DOCUMENT_FIELDS.
class _SourceDocumentOutput(ModelOutput):
    source = serializers.CharField(help_text="The vendor it came from (shopify, square, …).")
    source_connection = serializers.IntegerField(source="source_connection_id", allow_null=True)
    source_version = serializers.IntegerField(help_text="The vendor's version; older versions are ignored.")
    raw_event = serializers.IntegerField(source="raw_event_id", allow_null=True, help_text="The inbound event.")


class OrderOutput(_SourceDocumentOutput):
    lines = OrderLineOutput(many=True, source="lines.all")
    discounts = DiscountOutput(many=True, source="discounts.all")
    tax_lines = TaxLineOutput(many=True, source="tax_lines.all")
    shipping_lines = ShippingLineOutput(many=True, source="shipping_lines.all")
    payments = PaymentOutput(many=True, source="payments.all")
    fulfilments = FulfilmentOutput(many=True, source="fulfilments.all")
    refunds = serializers.SerializerMethodField(help_text="Ids of the order's refunds (GET /refunds/<id>/).")

    class Meta:
        model = Order
        fields = (
            *SOURCE_DOCUMENT_FIELDS,
            "channel",
            "store",
            "placed_at",
            "paid_at",
            "fulfilled_at",
            "cancelled_at",
            "customer_ref",
            "taxes_included",
            "presentment_currency",
            "vendor_total",
            "ship_country",
            "ship_region",
            "lines",
            "discounts",
            "tax_lines",
            "shipping_lines",
            "payments",
            "fulfilments",
            "refunds",
        )
        extra_kwargs = {"vendor_total": {"help_text": "The total the vendor stated."}}

    def get_refunds(self, order: Order) -> list[int]:
        return [refund.pk for refund in order.refunds.all()]


class RefundLineOutput(ModelOutput):
    class Meta:
        model = RefundLine
        fields = ("order_line", "quantity", "restock")


class RefundOutput(_SourceDocumentOutput):
    order_external_id = serializers.CharField(source="order.external_id")
    lines = RefundLineOutput(many=True, source="lines.all")

    class Meta:
        model = Refund
        fields = (
            *SOURCE_DOCUMENT_FIELDS,
            "order",
            "order_external_id",
            "processed_at",
            "shipping",
            "gateway",
            "is_gift_card",
            "amount",
            "reason",
            "lines",
        )
        extra_kwargs = {
            "shipping": {"help_text": "Shipping refunded."},
            "amount": {"help_text": "The amount the vendor stated."},
        }


class OrderFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    placed_from = UtcIsoDateTimeFilter(field_name="placed_at", lookup_expr="gte")
    placed_to = UtcIsoDateTimeFilter(field_name="placed_at", lookup_expr="lt")
    external_id = django_filters.CharFilter(max_length=120)
    source_connection = django_filters.NumberFilter(field_name="source_connection_id")
    channel = django_filters.CharFilter(max_length=60)

    class Meta:
        model = Order
        fields = ["updated_since", "placed_from", "placed_to", "external_id", "source_connection", "channel"]


class RefundFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    order = django_filters.NumberFilter(field_name="order_id")
    external_id = django_filters.CharFilter(max_length=120)

    class Meta:
        model = Refund
        fields = ["updated_since", "order", "external_id"]


ORDER_EXAMPLE_VALUE = {
    "id": 381,
    "source": "shopify",
    "source_connection": 4,
    "external_id": "5551234567890",
    "source_version": 1710430204000,
    "raw_event": 9120,
    "currency": "EUR",
    "created_at": "2026-03-14T15:30:04Z",
    "updated_at": "2026-03-14T15:30:04Z",
    "channel": "online_store",
    "store": "",
    "placed_at": "2026-03-14T15:29:58Z",
    "paid_at": "2026-03-14T15:29:58Z",
    "fulfilled_at": None,
    "cancelled_at": None,
    "customer_ref": "cust_8812",
    "taxes_included": True,
    "presentment_currency": "EUR",
    "vendor_total": "119.0000",
    "ship_country": "DE",
    "ship_region": "BE",
    "lines": [
        {
            "id": 911,
            "position": 0,
            "external_id": "13371",
            "sku": "MUG-BLUE",
            "title": "Blue mug",
            "product_category": "kitchen",
            "quantity": 2,
            "unit_price": "59.5000",
            "gross": "119.0000",
            "discount_total": "0.0000",
            "net": "119.0000",
        }
    ],
    "discounts": [],
    "tax_lines": [
        {
            "position": 0,
            "order_line": 911,
            "shipping_line": None,
            "jurisdiction": "DE",
            "rate": "0.190000",
            "amount": "19.0000",
            "collected_by": "merchant",
        }
    ],
    "shipping_lines": [],
    "payments": [
        {
            "position": 0,
            "external_id": "7001",
            "gateway": "shopify_payments",
            "method": "card",
            "amount": "119.0000",
            "fee": "2.0900",
            "is_gift_card": False,
        }
    ],
    "fulfilments": [],
    "refunds": [],
}
ORDER_EXAMPLE = OpenApiExample("Paid order", value=ORDER_EXAMPLE_VALUE, response_only=True)


class _OrderApi(TenantApiView):
    """The rows and output of the order list and the order detail (no operation of its own)."""

    serializer_class = OrderOutput
    schema_model = Order

    def rows(self):
        return orders_list()


class _RefundApi(TenantApiView):
    """The rows and output of the refund list and the refund detail (no operation of its own)."""

    serializer_class = RefundOutput
    schema_model = Refund

    def rows(self):
        return refunds_list()


@extend_schema_view(
    get=read_operation(
        "orders_list",
        OrderOutput(many=True),
        summary="List orders with their lines, taxes, discounts, payments and fulfilments",
        description="Every order as stored from its channel, newest first (cursor pages), each with its lines, "
        "discounts, tax lines, shipping lines, payments, fulfilments and refund ids. `updated_since` returns only "
        "orders changed since a moment (a new version from the channel); with the cursor a client keeps an "
        "incremental copy. Money is a decimal string in the order's currency.",
        examples=[ORDER_EXAMPLE],
    )
)
class OrderListApi(ListMixin, _OrderApi):
    filterset_class = OrderFilter


@extend_schema_view(
    get=read_operation(
        "orders_retrieve",
        OrderOutput,
        summary="Read one order",
        description="One order with its lines, discounts, tax lines, shipping lines, payments, fulfilments and "
        "refund ids. Its journey (events, journal entries, ERP pushes, payout, exceptions) is at `trace/`.",
        examples=[ORDER_EXAMPLE],
    )
)
class OrderDetailApi(RetrieveMixin, _OrderApi):
    not_found = "No such order."


@extend_schema_view(
    get=read_operation(
        "refunds_list",
        RefundOutput(many=True),
        summary="List refunds",
        description="Every refund as stored from its channel, newest first (cursor pages), with its lines (the "
        "order lines refunded, restocked or not). Filters: `updated_since`, `order`, `external_id`.",
    )
)
class RefundListApi(ListMixin, _RefundApi):
    filterset_class = RefundFilter


@extend_schema_view(
    get=read_operation(
        "refunds_retrieve",
        RefundOutput,
        summary="Read one refund",
        description="One refund with its lines, its order and the amounts the channel stated.",
    )
)
class RefundDetailApi(RetrieveMixin, _RefundApi):
    not_found = "No such refund."


urlpatterns = [
    path("orders/", OrderListApi.as_view(), name="api-orders"),
    path("orders/<int:pk>/", OrderDetailApi.as_view(), name="api-order-detail"),
    path("refunds/", RefundListApi.as_view(), name="api-refunds"),
    path("refunds/<int:pk>/", RefundDetailApi.as_view(), name="api-refund-detail"),
]
