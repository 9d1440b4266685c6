"""The canonical sale: orders and their lines, taxes, discounts, payments and fulfilments; refunds and payouts."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from core.models import MONEY


class Funding(models.TextChoices):
    MERCHANT = "merchant", "Merchant"
    VENDOR = "vendor", "Vendor"


class CollectedBy(models.TextChoices):
    MERCHANT = "merchant", "Merchant"
    MARKETPLACE = "marketplace", "Marketplace facilitator"


class SourceDocument(models.Model):
    source = models.CharField(max_length=40)
    source_connection_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=120)
    source_version = models.BigIntegerField()
    raw_event_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="%(app_label)s_%(class)s_source_unique",
                nulls_distinct=False,
            )
        ]
        # What the API's `updated_since` filter reads.
        indexes = [models.Index(fields=["updated_at"], name="%(app_label)s_%(class)s_updated_idx")]


class Order(SourceDocument):
    channel = models.CharField(max_length=60, blank=True)
    store = models.CharField(max_length=60, blank=True)
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    customer_ref = models.CharField(max_length=120, blank=True)
    taxes_included = models.BooleanField(default=False)
    presentment_currency = models.CharField(max_length=3, blank=True)
    presentment_amounts = models.JSONField(default=dict, blank=True)
    vendor_total = models.DecimalField(**MONEY, null=True, blank=True)
    # Where it ships to (ISO 3166-1 alpha-2 country, region/state code): what routing rules match.
    ship_country = models.CharField(max_length=2, blank=True)
    ship_region = models.CharField(max_length=80, blank=True)

    class Meta(SourceDocument.Meta):
        ordering = ["-placed_at", "-pk"]

    def __str__(self) -> str:
        return f"Order {self.external_id}"


class OrderPart(models.Model):
    """A part of an order (line, shipping line, discount, tax line, payment) at its place in the
    vendor's order. Each part declares its own `order` foreign key (with its related name)."""

    position = models.PositiveIntegerField()

    class Meta:
        abstract = True
        ordering = ["order_id", "position"]


class OrderLine(OrderPart):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=120)
    sku = models.CharField(max_length=120, blank=True)
    title = models.CharField(max_length=255, blank=True)
    product_category = models.CharField(max_length=80, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    gross = models.DecimalField(**MONEY)
    discount_total = models.DecimalField(**MONEY, default=0)
    net = models.DecimalField(**MONEY)
    # The vendor's shares of order-level discounts: [[discount position, "amount"], ...]
    discount_allocations = models.JSONField(default=list, blank=True)

    class Meta(OrderPart.Meta):
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="commerce_orderline_unique")]

    def __str__(self) -> str:
        return f"{self.sku or self.external_id} x{self.quantity}"


class ShippingLine(OrderPart):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipping_lines")
    external_id = models.CharField(max_length=120)
    code = models.CharField(max_length=80, blank=True)
    title = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(**MONEY)

    def __str__(self) -> str:
        return f"Shipping {self.title or self.code} {self.amount}"


class DiscountAllocation(OrderPart):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="discounts")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, null=True, blank=True)  # null: order-level
    code = models.CharField(max_length=80, blank=True)
    promotion_id = models.CharField(max_length=120, blank=True)
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.MERCHANT)
    amount = models.DecimalField(**MONEY)

    def __str__(self) -> str:
        return f"Discount {self.code or self.promotion_id} {self.amount}"


class TaxLine(OrderPart):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tax_lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, null=True, blank=True)
    shipping_line = models.ForeignKey(ShippingLine, on_delete=models.CASCADE, null=True, blank=True)
    jurisdiction = models.CharField(max_length=80)
    rate = models.DecimalField(max_digits=9, decimal_places=6)
    amount = models.DecimalField(**MONEY)
    collected_by = models.CharField(max_length=12, choices=CollectedBy.choices, default=CollectedBy.MERCHANT)

    class Meta(OrderPart.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order_line__isnull=False, shipping_line__isnull=True)
                | models.Q(order_line__isnull=True, shipping_line__isnull=False),
                name="commerce_taxline_one_parent",
            )
        ]

    def __str__(self) -> str:
        return f"Tax {self.jurisdiction} {self.amount}"


class Payment(OrderPart):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    external_id = models.CharField(max_length=120)
    gateway = models.CharField(max_length=60)
    method = models.CharField(max_length=60, blank=True)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=0)
    is_gift_card = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Payment {self.gateway} {self.amount}"


class Fulfilment(models.Model):
    """A shipment of some of an order's lines. `channel` ones are read from the sales channel with
    the order (rewritten with it); `warehouse` ones come from a 3PL or a ship-confirmation file, are
    kept across order updates and are pushed to the order's channel (`channel_status`)."""

    class Origin(models.TextChoices):
        CHANNEL = "channel", "Read from the sales channel"
        WAREHOUSE = "warehouse", "Shipped by a warehouse"

    class ChannelStatus(models.TextChoices):
        NOT_PUSHED = "not_pushed", "Not pushed yet"
        PUSHED = "pushed", "Pushed, not confirmed"
        ACKNOWLEDGED = "acknowledged", "Acknowledged by the channel"
        FAILED = "failed", "Channel did not acknowledge"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilments")
    external_id = models.CharField(max_length=120)
    fulfilled_at = models.DateTimeField()
    location = models.CharField(max_length=80, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.CHANNEL)
    request = models.ForeignKey(
        "FulfilmentRequest", on_delete=models.SET_NULL, null=True, blank=True, related_name="fulfilments"
    )
    source_connection_id = models.BigIntegerField(null=True, blank=True)
    carrier = models.CharField(max_length=80, blank=True)
    service = models.CharField(max_length=80, blank=True)
    tracking_number = models.CharField(max_length=120, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    channel_status = models.CharField(max_length=12, choices=ChannelStatus.choices, default=ChannelStatus.NOT_PUSHED)
    channel_reference = models.CharField(max_length=120, blank=True)
    channel_error = models.CharField(max_length=500, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    raw_event_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order_id", "fulfilled_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "source_connection_id", "external_id"],
                condition=models.Q(origin="warehouse"),
                name="commerce_fulfil_wh_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Fulfilment {self.external_id}"

    def get_absolute_url(self) -> str:
        return reverse("order_trace", kwargs={"order_id": self.order_id})


class FulfilmentLine(models.Model):
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.order_line_id} x{self.quantity}"


class Refund(SourceDocument):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    processed_at = models.DateTimeField()
    shipping = models.DecimalField(**MONEY, default=0)
    gateway = models.CharField(max_length=60, blank=True)
    is_gift_card = models.BooleanField(default=False)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)

    class Meta(SourceDocument.Meta):
        ordering = ["processed_at", "pk"]

    def __str__(self) -> str:
        return f"Refund {self.external_id}"


class RefundLine(models.Model):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines")
    quantity = models.PositiveIntegerField()
    restock = models.BooleanField(default=False)

    class Meta:
        ordering = ["refund_id", "pk"]

    def __str__(self) -> str:
        return f"{self.order_line_id} x{self.quantity}"


class Payout(SourceDocument):
    gateway = models.CharField(max_length=60)
    arrival_date = models.DateField()
    amount = models.DecimalField(**MONEY)

    class Meta(SourceDocument.Meta):
        ordering = ["-arrival_date", "-pk"]

    def __str__(self) -> str:
        return f"Payout {self.external_id}"


class PayoutLine(models.Model):
    class Type(models.TextChoices):
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        FEE = "fee", "Fee"
        ADJUSTMENT = "adjustment", "Adjustment"
        RESERVE = "reserve", "Reserve"
        OTHER = "other", "Other (vendor type not known to Tillbridge)"

    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=12, choices=Type.choices)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=0)
    reference = models.CharField(max_length=120, blank=True)
    external_id = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=255, blank=True)
    vendor_type = models.CharField(max_length=60, blank=True)  # the vendor's own line type, as sent

    class Meta:
        ordering = ["payout_id", "position"]

    def __str__(self) -> str:
        return f"{self.type} {self.amount}"


# ---- inventory and available-to-sell (issue 8, part 4) ---------------------------------------
