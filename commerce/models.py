"""The canonical retail model (tenant schema). Every source row keeps its connection, external id,
source version and the raw inbound event behind it; amounts are in the order's (shop's) currency."""

from __future__ import annotations

from django.db import models

MONEY = {"max_digits": 18, "decimal_places": 4}


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

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="commerce_order_source_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Order {self.external_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    external_id = models.CharField(max_length=120)
    sku = models.CharField(max_length=120, blank=True)
    title = models.CharField(max_length=255, blank=True)
    product_category = models.CharField(max_length=80, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    gross = models.DecimalField(**MONEY)
    discount_total = models.DecimalField(**MONEY, default=0)
    net = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [models.UniqueConstraint(fields=["order", "external_id"], name="commerce_orderline_unique")]

    def __str__(self) -> str:
        return f"{self.sku or self.external_id} x{self.quantity}"


class ShippingLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipping_lines")
    position = models.PositiveIntegerField()
    external_id = models.CharField(max_length=120)
    code = models.CharField(max_length=80, blank=True)
    title = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["order_id", "position"]

    def __str__(self) -> str:
        return f"Shipping {self.title or self.code} {self.amount}"


class DiscountAllocation(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="discounts")
    position = models.PositiveIntegerField()
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, null=True, blank=True)  # null: order-level
    code = models.CharField(max_length=80, blank=True)
    promotion_id = models.CharField(max_length=120, blank=True)
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.MERCHANT)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["order_id", "position"]

    def __str__(self) -> str:
        return f"Discount {self.code or self.promotion_id} {self.amount}"


class TaxLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tax_lines")
    position = models.PositiveIntegerField()
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, null=True, blank=True)
    shipping_line = models.ForeignKey(ShippingLine, on_delete=models.CASCADE, null=True, blank=True)
    jurisdiction = models.CharField(max_length=80)
    rate = models.DecimalField(max_digits=9, decimal_places=6)
    amount = models.DecimalField(**MONEY)
    collected_by = models.CharField(max_length=12, choices=CollectedBy.choices, default=CollectedBy.MERCHANT)

    class Meta:
        ordering = ["order_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order_line__isnull=False, shipping_line__isnull=True)
                | models.Q(order_line__isnull=True, shipping_line__isnull=False),
                name="commerce_taxline_one_parent",
            )
        ]

    def __str__(self) -> str:
        return f"Tax {self.jurisdiction} {self.amount}"


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    position = models.PositiveIntegerField()
    external_id = models.CharField(max_length=120)
    gateway = models.CharField(max_length=60)
    method = models.CharField(max_length=60, blank=True)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=0)
    is_gift_card = models.BooleanField(default=False)

    class Meta:
        ordering = ["order_id", "position"]

    def __str__(self) -> str:
        return f"Payment {self.gateway} {self.amount}"


class Fulfilment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilments")
    external_id = models.CharField(max_length=120)
    fulfilled_at = models.DateTimeField()
    location = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["order_id", "fulfilled_at", "pk"]

    def __str__(self) -> str:
        return f"Fulfilment {self.external_id}"


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

    class Meta:
        ordering = ["processed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="commerce_refund_source_unique",
                nulls_distinct=False,
            )
        ]

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

    class Meta:
        ordering = ["-arrival_date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="commerce_payout_source_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Payout {self.external_id}"


class PayoutLine(models.Model):
    class Type(models.TextChoices):
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        FEE = "fee", "Fee"
        ADJUSTMENT = "adjustment", "Adjustment"
        RESERVE = "reserve", "Reserve"

    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    type = models.CharField(max_length=12, choices=Type.choices)
    amount = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY, default=0)
    reference = models.CharField(max_length=120, blank=True)
    external_id = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["payout_id", "position"]

    def __str__(self) -> str:
        return f"{self.type} {self.amount}"
