"""The canonical retail model (tenant schema). Every source row keeps its connection, external id,
source version and the raw inbound event behind it; amounts are in the order's (shop's) currency."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

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
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="%(app_label)s_%(class)s_source_unique",
                nulls_distinct=False,
            )
        ]


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
    # The vendor's shares of order-level discounts: [[discount position, "amount"], ...]
    discount_allocations = models.JSONField(default=list, blank=True)

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

QUANTITY = {"max_digits": 14, "decimal_places": 3}


class InventoryLocation(models.Model):
    """A place stock is counted: a Shopify/Square location or a CSV location code, per source
    connection. `source_connection_id` is null for locations created by hand."""

    class Kind(models.TextChoices):
        STORE = "store", "Store"
        WAREHOUSE = "warehouse", "Warehouse"
        WEB = "web", "Web"

    source = models.CharField(max_length=40)
    source_connection_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=120)
    name = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STORE)
    safety_stock_default = models.DecimalField(**QUANTITY, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "external_id", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                name="commerce_location_source_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=models.Q(safety_stock_default__gte=0), name="commerce_location_safety_gte0"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    def get_absolute_url(self) -> str:
        return reverse("inventory_location", kwargs={"pk": self.pk})


class InventoryLevel(models.Model):
    """On hand of one SKU at one location, as the source last reported it. `net_of_source_orders`
    marks a figure the source already lowered for its own open orders (Shopify's `available`), so
    reservations from that connection's orders are not subtracted twice."""

    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="levels")
    sku = models.CharField(max_length=120)
    on_hand = models.DecimalField(**QUANTITY)
    net_of_source_orders = models.BooleanField(default=False)
    source = models.CharField(max_length=40)
    source_connection_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=120, blank=True)  # the source's item id (inventory item, variation)
    source_version = models.BigIntegerField()
    source_updated_at = models.DateTimeField(null=True, blank=True)
    raw_event_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "location_id"]
        constraints = [models.UniqueConstraint(fields=["location", "sku"], name="commerce_level_unique")]
        indexes = [models.Index(fields=["source_connection_id", "external_id"], name="commerce_level_item_idx")]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location_id}: {self.on_hand}"


class SafetyStock(models.Model):
    """A per-SKU safety stock at a location, overriding the location's default."""

    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="safety_stocks")
    sku = models.CharField(max_length=120)
    quantity = models.DecimalField(**QUANTITY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "location_id"]
        constraints = [
            models.UniqueConstraint(fields=["location", "sku"], name="commerce_safety_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="commerce_safety_gte0"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location_id}: {self.quantity}"


class Reservation(models.Model):
    """Stock held for the unfulfilled part of an open order line. Released (kept for the record)
    when the line is fulfilled, cancelled or refunded."""

    order_line = models.OneToOneField(OrderLine, on_delete=models.CASCADE, related_name="reservation")
    order_connection_id = models.BigIntegerField(null=True, blank=True)
    sku = models.CharField(max_length=120)
    location = models.ForeignKey(
        InventoryLocation, on_delete=models.SET_NULL, null=True, blank=True, related_name="reservations"
    )
    quantity = models.DecimalField(**QUANTITY)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "pk"]
        indexes = [models.Index(fields=["sku", "location"], name="commerce_resv_sku_loc_idx")]

    def __str__(self) -> str:
        return f"Reserve {self.sku} x{self.quantity}"


class ChannelLocation(models.Model):
    """A sales channel connection sells from this location; ATS is pushed to the channel under
    `channel_location_id` (the channel's own id for the location)."""

    channel_connection_id = models.BigIntegerField()
    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="channels")
    channel_location_id = models.CharField(max_length=120)

    class Meta:
        ordering = ["channel_connection_id", "location_id"]
        constraints = [
            models.UniqueConstraint(fields=["channel_connection_id", "location"], name="commerce_chanloc_unique")
        ]

    def __str__(self) -> str:
        return f"Channel {self.channel_connection_id} sells from {self.location_id}"

    def get_absolute_url(self) -> str:
        return reverse("inventory_location", kwargs={"pk": self.location_id})


class ChannelStock(models.Model):
    """What was pushed to a channel for one SKU at one channel location, and what it acknowledged."""

    class Status(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        MISMATCH = "mismatch", "Channel shows another figure"
        FAILED = "failed", "Failed"

    channel_location = models.ForeignKey(ChannelLocation, on_delete=models.CASCADE, related_name="stocks")
    sku = models.CharField(max_length=120)
    pushed_ats = models.DecimalField(**QUANTITY)
    acknowledged_ats = models.DecimalField(**QUANTITY, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    error = models.CharField(max_length=500, blank=True)
    pushed_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sku", "channel_location_id"]
        constraints = [models.UniqueConstraint(fields=["channel_location", "sku"], name="commerce_chanstock_unique")]

    def __str__(self) -> str:
        return f"{self.sku} → {self.channel_location_id}: {self.acknowledged_ats}"


class StockChange(models.Model):
    """A (sku, location) whose ATS changed and is not yet pushed to its channels: the debounce
    queue. Rows are written in the same transaction as the change, so a rolled-back change never
    triggers a push, and a lost task leaves the row for the per-minute sweep. A push claims rows
    (`claimed_at`) in a short transaction and deletes them after the channels answered, unless
    they changed again meanwhile; a claim older than the timeout is taken over (a crashed push)."""

    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=120)
    changed_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "sku"], name="commerce_stockchange_unique")]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location_id} changed"


class RoutingRule(models.Model):
    """Where a paid order ships from: rules are tried by priority (lowest first); a rule matches
    when the destination and SKUs fit its conditions (empty = any) and its location has the stock."""

    name = models.CharField(max_length=120)
    priority = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="routing_rules")
    countries = models.JSONField(default=list, blank=True, help_text="ISO country codes; empty: any")
    regions = models.JSONField(default=list, blank=True, help_text="Region/state codes; empty: any")
    skus = models.JSONField(default=list, blank=True, help_text="SKUs this location ships; empty: any")
    fulfilment_connection_id = models.BigIntegerField(
        null=True, blank=True, help_text="The warehouse system (3PL connection) of this location."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return f"{self.name} (priority {self.priority})"

    def get_absolute_url(self) -> str:
        return reverse("fulfilment_rule_edit", kwargs={"pk": self.pk})


class FulfilmentRequest(models.Model):
    """The part of an order one location ships, and what its warehouse system said about it."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting to be sent"
        SENT = "sent", "Sent to the warehouse"
        REJECTED = "rejected", "Rejected by the warehouse"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilment_requests")
    location = models.ForeignKey(InventoryLocation, on_delete=models.PROTECT, related_name="fulfilment_requests")
    rule = models.ForeignKey(RoutingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    fulfilment_connection_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    lines = models.JSONField(default=list)  # [{"line": order line id, "external_id", "sku", "quantity"}]
    external_id = models.CharField(max_length=120, blank=True)  # the warehouse system's order id
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["order", "location"], name="commerce_fulreq_unique")]
        indexes = [models.Index(fields=["status", "created_at"], name="commerce_fulreq_status_idx")]

    def __str__(self) -> str:
        return f"Fulfilment request {self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("order_trace", kwargs={"order_id": self.order_id})

    @property
    def order_key(self) -> str:
        """The key the warehouse system knows this request by (ShipStation `orderKey`)."""
        return f"tb-{self.pk}"
