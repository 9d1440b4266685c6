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


# ---- returns (RMA, issue 19) ---------------------------------------------------------------


class ReturnPolicy(models.Model):
    """One row per tenant schema: when a return needs a second approver, and after how many days a
    refund without its goods back, or goods back without a refund, becomes an exception."""

    singleton = models.PositiveSmallIntegerField(default=1, unique=True, editable=False)
    second_approval_above = models.DecimalField(**MONEY, default=500)
    refund_unreceived_days = models.PositiveSmallIntegerField(default=14)
    received_unrefunded_days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "return policies"
        constraints = [models.CheckConstraint(condition=models.Q(singleton=1), name="commerce_return_policy_singleton")]

    def __str__(self) -> str:
        return "Return policy"


class Return(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        IN_TRANSIT = "in_transit", "In transit"
        RECEIVED = "received", "Received"
        INSPECTED = "inspected", "Inspected"
        REFUNDED = "refunded", "Refunded"
        CLOSED = "closed", "Closed"

    class Origin(models.TextChoices):
        CHANNEL = "channel", "Sales channel"
        PORTAL = "portal", "Portal"
        API = "api", "API"

    class ShippingPaidBy(models.TextChoices):
        MERCHANT = "merchant", "Merchant (an expense)"
        CUSTOMER = "customer", "Customer (taken from the refund)"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    origin = models.CharField(max_length=8, choices=Origin.choices)
    source = models.CharField(max_length=40, blank=True)  # the channel's vendor; blank for portal/API
    source_connection_id = models.BigIntegerField(null=True, blank=True)
    external_id = models.CharField(max_length=120, blank=True)  # the channel's id; blank for portal/API
    source_version = models.BigIntegerField(default=0)
    raw_event_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=60, blank=True)  # RMA number as people see it
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    currency = models.CharField(max_length=3)
    value = models.DecimalField(**MONEY, default=0)  # the returned lines' net value, for approval limits
    reason = models.CharField(max_length=255, blank=True)
    restocking_fee = models.DecimalField(**MONEY, default=0)
    shipping_cost = models.DecimalField(**MONEY, default=0)
    shipping_paid_by = models.CharField(max_length=8, choices=ShippingPaidBy.choices, default=ShippingPaidBy.MERCHANT)
    tracking_number = models.CharField(max_length=120, blank=True)
    exchange_order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="exchanged_returns"
    )
    location = models.ForeignKey(InventoryLocation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    refunds = models.ManyToManyField(Refund, blank=True, related_name="returns")
    requested_by_id = models.BigIntegerField(null=True, blank=True)
    requested_by_label = models.CharField(max_length=160, blank=True)
    approvals = models.JSONField(default=list, blank=True)  # [{"user_id": 3, "label": "a@b", "at": "..."}]
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    mismatch_flagged_at = models.DateTimeField(null=True, blank=True)  # raised to triage (commerce.returns_checks)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_connection_id", "external_id"],
                condition=~models.Q(external_id=""),
                name="commerce_return_source_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=models.Q(restocking_fee__gte=0, shipping_cost__gte=0, value__gte=0),
                name="commerce_return_amounts_gte0",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="commerce_return_status_idx")]

    def __str__(self) -> str:
        return f"Return {self.name or self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("return_detail", kwargs={"return_id": self.pk})


class ReturnLine(models.Model):
    class Condition(models.TextChoices):
        UNKNOWN = "unknown", "Not inspected"
        NEW = "new", "As new"
        OPENED = "opened", "Opened"
        DAMAGED = "damaged", "Damaged"
        DEFECTIVE = "defective", "Defective"

    class Disposition(models.TextChoices):
        RESTOCK = "restock", "Restock (sellable)"
        REFURBISH = "refurbish", "Refurbish (not sellable yet)"
        SCRAP = "scrap", "Scrap"

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    external_id = models.CharField(max_length=120, blank=True)
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=255, blank=True)
    condition = models.CharField(max_length=10, choices=Condition.choices, default=Condition.UNKNOWN)
    disposition = models.CharField(max_length=10, choices=Disposition.choices, default=Disposition.RESTOCK)
    restocked = models.DecimalField(**QUANTITY, default=0)  # units put back on hand (restock disposition)

    class Meta:
        ordering = ["ret_id", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="commerce_returnline_qty_gt0")]

    def __str__(self) -> str:
        return f"{self.order_line_id} x{self.quantity} ({self.disposition})"


class ReturnEvent(models.Model):
    """The return's timeline: every transition and link, who did it and when."""

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    action = models.CharField(max_length=40)
    status = models.CharField(max_length=12, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=160, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["ret_id", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} at {self.at:%Y-%m-%d %H:%M}"
