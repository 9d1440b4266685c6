"""Canonical promotions (issue 8, tenant schema).

A `Promotion` is the governed object people talk about; each edit makes a new immutable
`PromotionVersion`; each publish makes one `ChannelDeployment` per channel in scope, always naming
the version it carries. People live in the public schema, so authors and approvers are kept as an
id and an email snapshot (as triage does for assignees) rather than a cross-schema foreign key.
"""

from __future__ import annotations

from django.db import models

from commerce.models import Funding
from connectors.models import Connection
from core.models import MONEY, Singleton

SALES_CHANNEL_VENDORS = (Connection.Vendor.SHOPIFY, Connection.Vendor.WOOCOMMERCE, Connection.Vendor.SQUARE)


class Kind(models.TextChoices):
    PERCENT_OFF = "percent_off", "Percent off"
    AMOUNT_OFF = "amount_off", "Amount off"
    FIXED_PRICE = "fixed_price", "Fixed price"
    BUY_X_GET_Y = "buy_x_get_y", "Buy X get Y"
    FREE_SHIPPING = "free_shipping", "Free shipping"
    BUNDLE = "bundle", "Bundle"


class Stacking(models.TextChoices):
    EXCLUSIVE = "exclusive", "Exclusive"
    STACKABLE = "stackable", "Stackable with the listed promotions"


class Fallback(models.TextChoices):
    """What the deployment service does when a channel rejects an update (issue 20)."""

    KEEP_OTHERS = "keep_others", "Keep the other channels live"
    PAUSE_ALL = "pause_all", "Pause on every channel"
    ROLLBACK_ALL = "rollback_all", "Roll back on every channel"


class Authored(models.Model):
    """Who wrote the row: people live in the public schema, so an id and an email snapshot."""

    author_id = models.BigIntegerField(null=True, blank=True)
    author_email = models.CharField(max_length=254, blank=True)

    class Meta:
        abstract = True


class Governed(Authored):
    """A promotion or a price list: the object people talk about, whose every edit is a new version
    (`current_version`) and whose publish sends one (`published_version`)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class SubmittedVersion(Authored):
    """One immutable version of a governed object (`number` counts from 1 per object), in force from
    `starts_at`, checked before submit, submitted by its author and approved by another person."""

    number = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    validation = models.JSONField(default=dict, blank=True)  # {"ok", "errors": [...], "warnings": [...], "at"}
    author_key = models.CharField(
        max_length=60, blank=True, help_text="'api-key:<prefix>' when written through an API key."
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by_id = models.BigIntegerField(null=True, blank=True)
    approved_by_email = models.CharField(max_length=254, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Deployment(models.Model):
    """One version sent to one channel (`version`, `connection`): how that went."""

    last_error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.version} on {self.connection.name}"


class Promotion(Governed):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATED = "validated", "Validated"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        PUBLISHED = "published", "Published"
        LIVE = "live", "Live"
        PARTIALLY_LIVE = "partially_live", "Partially live"
        PAUSED = "paused", "Paused"
        EXPIRED = "expired", "Expired"
        ROLLED_BACK = "rolled_back", "Rolled back"

    key = models.SlugField(max_length=60, unique=True, help_text="Tenant-visible key, tagged on every channel object.")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    current_version = models.ForeignKey(
        "PromotionVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_version = models.ForeignKey(
        "PromotionVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Launch(models.TextChoices):
        NONE = "", "Not staged"
        RUNNING = "running", "Staged launch running"
        DONE = "done", "Every wave sent"
        HALTED = "halted", "Launch halted"

    # The staged launch of the published version (issue 20): the wave sent last (0-based), and why it stopped.
    launch_state = models.CharField(max_length=8, choices=Launch.choices, blank=True, default="")
    launch_wave = models.PositiveIntegerField(default=0)
    launch_halted_reason = models.TextField(blank=True)
    # Budget and usage cap: the highest warning threshold already raised (percent), and when the cap
    # or budget was reached and every channel paused. Reset when a new version is published.
    budget_alert_percent = models.PositiveIntegerField(default=0)
    budget_reached_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    def get_absolute_url(self) -> str:
        return f"/promotions/{self.pk}/"


class PromotionVersion(SubmittedVersion):
    """One immutable revision. Fields never change once the version is submitted (services only)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="versions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.DecimalField(**MONEY, help_text="Percent for percent off and buy X get Y, money otherwise.")
    currency = models.CharField(max_length=3)
    buy_quantity = models.PositiveIntegerField(null=True, blank=True)
    get_quantity = models.PositiveIntegerField(null=True, blank=True)
    # {"skus": [], "categories": [], "collections": [], "customer_segment": "", "min_spend": "",
    #  "coupon_codes": [], "locations": []}
    eligibility = models.JSONField(default=dict, blank=True)
    exclusions = models.JSONField(default=dict, blank=True)  # {"skus": [], "categories": [], "collections": []}
    stacking = models.CharField(max_length=10, choices=Stacking.choices, default=Stacking.EXCLUSIVE)
    stackable_with = models.JSONField(default=list, blank=True)  # promotion keys
    priority = models.IntegerField(default=0)
    ends_at = models.DateTimeField(null=True, blank=True)
    channels = models.ManyToManyField(Connection, related_name="promotion_versions", blank=True)
    funding = models.CharField(max_length=10, choices=Funding.choices, default=Funding.MERCHANT)
    funding_vendor_ref = models.CharField(max_length=120, blank=True)
    funding_share = models.DecimalField(max_digits=5, decimal_places=2, default=100)
    budget = models.DecimalField(**MONEY, null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    stock_threshold = models.PositiveIntegerField(null=True, blank=True)
    # The merchant's list price and unit cost per SKU ({"SKU": {"price": "20.00", "cost": "8.00"}}):
    # the cost floor checked at validation. Nothing in commerce holds product costs.
    pricing = models.JSONField(default=dict, blank=True)
    rejected_reason = models.TextField(blank=True)
    fallback = models.CharField(max_length=12, choices=Fallback.choices, default=Fallback.KEEP_OTHERS)
    # Staged launch: ordered groups of connection ids ([[owned store], [marketplaces]]); empty = one wave.
    waves = models.JSONField(default=list, blank=True)
    wave_hold_minutes = models.PositiveIntegerField(default=0)
    # The margin check made at submit: {"min_percent", "lowest_percent", "below": [...], "unknown": [...],
    # "needs_finance": bool}. A version below the tenant's minimum needs a finance approver.
    margin = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["promotion_id", "number"]
        constraints = [models.UniqueConstraint(fields=["promotion", "number"], name="promotion_version_unique")]

    def __str__(self) -> str:
        return f"{self.promotion.key} v{self.number}"

    @property
    def skus(self) -> list[str]:
        return list(self.eligibility.get("skus") or [])


class ChannelDeployment(Deployment):
    """One version on one channel. The channel's current deployment is its newest row that was not
    rolled back; `acknowledged_version` is what the channel itself reports holding."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"
        PAUSED = "paused", "Paused"
        ROLLED_BACK = "rolled_back", "Rolled back"
        WAITING = "waiting", "Waiting for its wave"

    class PauseReason(models.TextChoices):
        NONE = "", "—"
        MANUAL = "manual", "Paused by a person"
        STOCK_GUARD = "stock_guard", "Stock below the promotion's threshold"
        EXPIRED = "expired", "Promotion window ended"
        BUDGET = "budget", "Budget or usage cap reached"
        FALLBACK = "fallback", "Another channel rejected the update"
        # The channel cannot hold a start date (a WooCommerce coupon): saved as a draft until the
        # window starts, then made live by the periodic job (promotions/scheduled.py).
        SCHEDULED = "scheduled", "Waiting for the window start"

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="deployments")
    version = models.ForeignKey(PromotionVersion, on_delete=models.PROTECT, related_name="deployments")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="promotion_deployments")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    external_id = models.CharField(max_length=120, blank=True)
    acknowledged_version = models.PositiveIntegerField(null=True, blank=True)
    pause_reason = models.CharField(max_length=12, choices=PauseReason.choices, blank=True, default="")
    wave = models.PositiveIntegerField(default=0, help_text="The staged launch's wave (0-based) this channel is in.")
    sent_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    # The last read-back of the live offer against this version (amount, type, eligibility, window):
    # None until a channel reported the offer's terms; the differences it found, in words.
    offer_matches = models.BooleanField(null=True, blank=True)
    offer_checked_at = models.DateTimeField(null=True, blank=True)
    offer_differences = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["promotion_id", "connection_id", "version__number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "connection"], name="deployment_version_connection_unique")
        ]


def budget_warnings_default() -> list[int]:
    return [80, 95]


class PromotionPolicy(Singleton):
    """The tenant's promotion settings (one row): margin floor, budget warnings, stock guard hysteresis."""

    min_margin_percent = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="A version whose margin after discount falls below this needs a finance approver.",
    )
    budget_warn_percents = models.JSONField(
        default=budget_warnings_default, blank=True, help_text="Warn when spend reaches these percents of the budget."
    )
    stock_hysteresis = models.PositiveIntegerField(
        default=0, help_text="The stock guard resumes a channel once stock is at threshold + this."
    )
    claim_overdue_days = models.PositiveIntegerField(
        default=30, help_text="A vendor claim still underpaid this many days after it was made is raised."
    )

    def __str__(self) -> str:
        return "Promotion policy"


class PromotionSpend(models.Model):
    """One order's discount from one promotion version, recorded when the order is posted. One row
    per (order, version), rewritten with the order's current discounts, so a replay never counts twice."""

    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="promotion_spend")
    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="spend")
    version = models.ForeignKey(PromotionVersion, on_delete=models.PROTECT, related_name="spend")
    discount = models.DecimalField(**MONEY, help_text="The whole discount the order got from this version.")
    vendor_funded = models.DecimalField(**MONEY, default=0)
    spend = models.DecimalField(**MONEY, help_text="What counts against the budget: the funder's share.")
    units = models.PositiveIntegerField(default=0, help_text="Units on the order lines the discounts applied to.")
    currency = models.CharField(max_length=3)
    redeemed_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["promotion_id", "-redeemed_at"]
        constraints = [models.UniqueConstraint(fields=["order", "version"], name="promotion_spend_order_version")]

    def __str__(self) -> str:
        return f"{self.version} on order {self.order_id}: {self.spend}"


class PriceList(Governed):
    """Prices from the price master, published to channels like a promotion (issue 8 §5)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATED = "validated", "Validated"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHED = "published", "Published"

    key = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # A version changing any price by more than this needs a second person's approval.
    approval_threshold_percent = models.DecimalField(max_digits=6, decimal_places=2, default=10)
    current_version = models.ForeignKey(
        "PriceListVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_version = models.ForeignKey(
        "PriceListVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Price list {self.key}"


class PriceListVersion(SubmittedVersion):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="versions")
    prices = models.JSONField(default=dict)  # {"SKU": "19.99"} in the list's currency
    costs = models.JSONField(default=dict, blank=True)  # {"SKU": "8.00"}: unit cost, for the margin check
    channels = models.ManyToManyField(Connection, related_name="price_list_versions", blank=True)
    requires_approval = models.BooleanField(default=False)

    class Meta:
        ordering = ["price_list_id", "number"]
        constraints = [models.UniqueConstraint(fields=["price_list", "number"], name="price_list_version_unique")]

    def __str__(self) -> str:
        return f"{self.price_list.key} v{self.number}"


class PriceListDeployment(Deployment):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"

    version = models.ForeignKey(PriceListVersion, on_delete=models.PROTECT, related_name="deployments")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="price_list_deployments")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)

    class Meta:
        ordering = ["version_id", "connection_id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "connection"], name="price_deployment_version_connection_unique")
        ]


class ChannelPrice(models.Model):
    """Audit trail: a price a channel showed for a SKU, read back from it, and when."""

    deployment = models.ForeignKey(PriceListDeployment, on_delete=models.CASCADE, related_name="shown_prices")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=120)
    price = models.DecimalField(**MONEY)
    expected = models.DecimalField(**MONEY)
    shown_at = models.DateTimeField()

    class Meta:
        ordering = ["-shown_at", "sku"]
        indexes = [models.Index(fields=["connection", "sku", "-shown_at"], name="channel_price_sku_idx")]

    def __str__(self) -> str:
        return f"{self.sku} {self.price} on {self.connection_id} at {self.shown_at:%Y-%m-%d %H:%M}"


class DiscountRedemption(models.Model):
    """The promotion version one stored discount came from (issue 20: every order line's discount
    records its version). Written where the order's spend is recorded, by the same matcher, and
    removed with the discount row when a new version of the order rewrites its discounts. It lives
    in promotions, not on commerce's discount row, because commerce sits below promotions."""

    discount = models.OneToOneField("commerce.DiscountAllocation", on_delete=models.CASCADE, related_name="redemption")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="+")
    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="redemptions")
    version = models.ForeignKey(PromotionVersion, on_delete=models.PROTECT, related_name="redemptions")

    class Meta:
        ordering = ["order_id", "discount_id"]

    def __str__(self) -> str:
        return f"{self.version} on discount {self.discount_id}"


class VendorClaim(Authored):
    """What the vendor owes for a funded promotion over one period (local dates, inclusive), in one
    currency: made once per period and exported as CSV; receipts record what the vendor paid."""

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="claims")
    vendor_ref = models.CharField(max_length=120, blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**MONEY, help_text="The vendor-funded discounts of the period's orders.")
    orders = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    overdue_raised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["promotion_id", "-period_start", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "period_start", "period_end", "currency"], name="vendor_claim_period_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Claim {self.promotion_id} {self.period_start} to {self.period_end} {self.amount} {self.currency}"

    def get_absolute_url(self) -> str:
        return f"/promotions/{self.promotion_id}/redemption/"


class ClaimReceipt(Authored):
    """An amount the vendor paid against a claim."""

    claim = models.ForeignKey(VendorClaim, on_delete=models.CASCADE, related_name="receipts")
    amount = models.DecimalField(**MONEY)
    received_on = models.DateField()
    reference = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["claim_id", "received_on", "pk"]

    def __str__(self) -> str:
        return f"Receipt {self.amount} on {self.received_on} for claim {self.claim_id}"
