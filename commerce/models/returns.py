"""Returns (RMA): the policy, returns, their lines and timeline."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from commerce.models.inventory import QUANTITY, InventoryLocation
from commerce.models.sales import Order, OrderLine, Refund
from core.models import MONEY, Singleton


class ReturnPolicy(Singleton):
    """One row per tenant schema: when a return needs a second approver, and after how many days a
    refund without its goods back, or goods back without a refund, becomes an exception."""

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
