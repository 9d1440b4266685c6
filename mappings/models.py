"""Chart of accounts and the versioned rules that map each posting role to an account (tenant schema)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Account(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        REVENUE = "revenue", "Revenue"
        EXPENSE = "expense", "Expense"

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    currency = models.CharField(max_length=3, blank=True)  # blank: any currency
    active = models.BooleanField(default=True)
    external_id = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PostingRole(models.TextChoices):
    REVENUE = "revenue", "Revenue"
    DISCOUNT = "discount", "Discounts (merchant-funded)"
    VENDOR_FUNDED_DISCOUNT_RECEIVABLE = "vendor_funded_discount_receivable", "Vendor-funded discount receivable"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    MARKETPLACE_TAX_COLLECTED = "marketplace_tax_collected", "Marketplace facilitator tax collected"
    MARKETPLACE_TAX_REMITTED = "marketplace_tax_remitted", "Marketplace facilitator tax remitted"
    SHIPPING_INCOME = "shipping_income", "Shipping income"
    PAYMENT_CLEARING = "payment_clearing", "Payment clearing"
    MERCHANT_FEES = "merchant_fees", "Merchant fees"
    REFUNDS = "refunds", "Refunds (sales returns)"
    GIFT_CARD_LIABILITY = "gift_card_liability", "Gift card liability"
    BANK = "bank", "Bank"
    ROUNDING = "rounding", "Rounding"
    RESERVE = "reserve", "Payout reserve"
    PAYOUT_ADJUSTMENT = "payout_adjustment", "Payout adjustments"
    PAYOUT_SUSPENSE = "payout_suspense", "Payout suspense (unknown payout lines)"
    RESTOCKING_FEES = "restocking_fees", "Restocking fees (income)"
    RETURN_SHIPPING = "return_shipping", "Return shipping (expense)"
    RETURN_SHIPPING_PAYABLE = "return_shipping_payable", "Return shipping payable"
    REFUNDS_OWED = "refunds_owed", "Refunds owed on received returns"


# Condition keys an AccountRule may set. Their order is the documented tie-break in
# `mappings.selectors.account_resolve`: between two rules matching the same number of conditions,
# the one whose set conditions come earlier in this tuple wins.
CONDITION_KEYS = (
    "jurisdiction",
    "product_category",
    "payment_method",
    "gateway",
    "promotion_funding",
    "store",
    "channel",
)


class MappingSet(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=120)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    effective_from = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="mappings_one_active_set"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(effective_from__isnull=False), name="mappings_set_effective_when_live"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class AccountRule(models.Model):
    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="rules")
    role = models.CharField(max_length=40, choices=PostingRole.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="rules")
    # Conditions: blank matches anything.
    jurisdiction = models.CharField(max_length=80, blank=True)
    product_category = models.CharField(max_length=80, blank=True)
    payment_method = models.CharField(max_length=60, blank=True)
    gateway = models.CharField(max_length=60, blank=True)
    promotion_funding = models.CharField(max_length=10, blank=True)
    store = models.CharField(max_length=60, blank=True)
    channel = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["mapping_set_id", "role", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["mapping_set", "role", *CONDITION_KEYS], name="mappings_rule_unique_conditions"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} -> {self.account_id}"

    def conditions(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in CONDITION_KEYS if getattr(self, key)}


class ValueMap(models.Model):
    class Kind(models.TextChoices):
        TAX_CODE = "tax_code", "Tax code"
        PAYMENT_METHOD = "payment_method", "Payment method"
        LOCATION = "location", "Location"
        DIMENSION = "dimension", "Dimension"

    mapping_set = models.ForeignKey(MappingSet, on_delete=models.CASCADE, related_name="value_maps")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source_value = models.CharField(max_length=120)
    erp_value = models.CharField(max_length=120)

    class Meta:
        ordering = ["mapping_set_id", "kind", "source_value"]
        constraints = [
            models.UniqueConstraint(fields=["mapping_set", "kind", "source_value"], name="mappings_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.source_value} -> {self.erp_value}"
