"""Stock: locations, levels per SKU, safety stock, reservations, what channels were sent."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

from commerce.models.sales import OrderLine

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
    # When available-to-sell here last fell to the safety stock or below (`stock.low` was sent);
    # cleared when it rises above again, so each fall is announced once.
    low_since = models.DateTimeField(null=True, blank=True)

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


class ChannelSku(models.Model):
    """One SKU identity (issue 20): a channel's own id for a sellable item (a Square item
    variation, a Shopify inventory item) and the tenant's SKU it stands for, read from the channel's
    catalog. Inbound stock and order lines are keyed by `sku`, never by the channel's id. A blank
    `sku` means the channel's item has none (an exception names it until the catalog is fixed)."""

    source = models.CharField(max_length=40)
    source_connection_id = models.BigIntegerField()
    channel_item_id = models.CharField(max_length=120)
    sku = models.CharField(max_length=120, blank=True)
    name = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source_connection_id", "sku", "channel_item_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_connection_id", "channel_item_id"], name="commerce_channelsku_item_unique"
            )
        ]
        indexes = [models.Index(fields=["source_connection_id", "sku"], name="commerce_channelsku_sku_idx")]

    def __str__(self) -> str:
        return f"{self.channel_item_id} = {self.sku or '(no SKU)'}"


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
    # The first change not yet pushed: kept when later changes bump `changed_at` (the latency clock).
    received_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["location", "sku"], name="commerce_stockchange_unique")]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location_id} changed"


class StockSync(models.Model):
    """One (sku, location) change that reached every channel selling from the location: when the
    change was received and when the last channel acknowledged it (the inventory sync latency KPI)."""

    location = models.ForeignKey(InventoryLocation, on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=120)
    received_at = models.DateTimeField()
    synced_at = models.DateTimeField()
    channels = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["-synced_at", "-pk"]
        indexes = [models.Index(fields=["synced_at"], name="commerce_stocksync_at_idx")]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location_id} synced"
