"""Where paid orders ship from (routing rules) and what each warehouse was asked to ship."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from commerce.models.inventory import InventoryLocation
from commerce.models.sales import Order
from core.models import Singleton


class FulfilmentPolicy(Singleton):
    """One row per tenant schema: the ship time the retailer promises its customers. An order ships
    on time when its first shipment is within `ship_sla_hours` of payment (the perfect-order KPI)."""

    ship_sla_hours = models.PositiveSmallIntegerField(
        default=48, help_text="Hours from payment to the first shipment that the retailer promises."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "fulfilment policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(singleton=1), name="commerce_fulfilment_policy_singleton"),
            models.CheckConstraint(condition=models.Q(ship_sla_hours__gte=1), name="commerce_fulfilment_sla_positive"),
        ]

    def __str__(self) -> str:
        return "Fulfilment policy"


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


# ---- returns (RMA, issue 19) ---------------------------------------------------------------
