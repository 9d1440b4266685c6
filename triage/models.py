"""The exception inbox (DESIGN.md §5): one group per fingerprint, one occurrence per object.

A fingerprint is kind + cause + object type, so 500 orders failing on the same missing mapping are
one `Exception` with 500 `Occurrence` rows: people triage the cause once, and retry or auto-resolve
works object by object. Assignees live in the public schema, so they are kept as an id and an email
snapshot rather than a cross-schema foreign key.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models

from core.models import MONEY


class Kind(models.TextChoices):
    SYNC = "sync", "Sync"
    NORMALISE = "normalise", "Normalise"
    MAPPING = "mapping", "Mapping"
    POSTING = "posting", "Posting"
    ERP_PUSH = "erp_push", "ERP push"
    RECONCILIATION = "reconciliation", "Reconciliation"
    PROMOTION_DEPLOYMENT = "promotion_deployment", "Promotion deployment"
    INVENTORY = "inventory", "Inventory"
    WEBHOOK = "webhook", "Webhook"
    FLOW_HEALTH = "flow_health", "Flow health"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class FixClass(models.TextChoices):
    """What kind of fix the person needs to make."""

    VALUE = "value", "Wrong value"
    MISSING_DATA = "missing_data", "Missing data"
    MAPPING = "mapping", "Mapping"
    CONNECTION_AUTH = "connection_auth", "Connection or authorisation"
    RATE_LIMIT = "rate_limit", "Rate limit"
    PARSE = "parse", "Unreadable input"
    DUPLICATE = "duplicate", "Duplicate"
    BUSINESS_RULE = "business_rule", "Business rule"


class Status(models.TextChoices):
    OPEN = "open", "Open"
    ASSIGNED = "assigned", "Assigned"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"


OPEN_STATUSES = (Status.OPEN, Status.ASSIGNED, Status.SNOOZED)


class Tally(models.Model):
    """How often a failure was seen, first and last, and the money its documents hold back
    (triage/money.py): kept for each object (`Occurrence`) and for its group (`Exception`)."""

    count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    # In `money_currency`. A group's is the sum of its open occurrences' amounts, and its last
    # figure is kept once the group is closed.
    money_at_risk = models.DecimalField(**MONEY, default=0)
    money_currency = models.CharField(max_length=3, blank=True)

    class Meta:
        abstract = True


class GroupSummary(Tally):
    """What an inbox lists of a group: kept on the group (`Exception`) and copied, in the same
    transaction, to its row in the partner-wide index (triage.partner's `TriageIndex`)."""

    title = models.CharField(max_length=255)
    assignee_id = models.BigIntegerField(null=True, blank=True)
    assignee_email = models.EmailField(blank=True)
    sla_due = models.DateTimeField()

    class Meta:
        abstract = True


class Exception(GroupSummary):
    kind = models.CharField(max_length=24, choices=Kind.choices)
    cause = models.CharField(max_length=80, help_text="Machine code of the cause, e.g. unmapped.")
    object_type = models.CharField(max_length=80, blank=True, help_text="app_label.model of the objects, or empty.")
    fingerprint = models.CharField(max_length=200, unique=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.NORMAL)
    fix_class = models.CharField(max_length=16, choices=FixClass.choices, default=FixClass.VALUE)
    tags = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    retry_name = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["sla_due", "-last_seen"]
        indexes = [
            models.Index(fields=["status", "sla_due"]),
            models.Index(fields=["kind", "status"]),
            models.Index(fields=["status", "-money_at_risk"], name="triage_exc_status_money"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Occurrence(Tally):
    """One object's failure within a group: what to retry, and the payload to correct."""

    exception = models.ForeignKey(Exception, on_delete=models.CASCADE, related_name="occurrences")
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    object_url = models.CharField(max_length=300, blank=True)
    detail = models.TextField(blank=True)
    context = models.JSONField(default=dict, blank=True)
    retry_args = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(null=True, blank=True, help_text="The input as received; never changed.")
    edited_payload = models.JSONField(null=True, blank=True, help_text="A person's correction, retried.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.TextField(blank=True)
    last_retry_at = models.DateTimeField(null=True, blank=True)
    last_retry_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["exception", "content_type", "object_id"],
                name="triage_occurrence_unique_object",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return self.object_label or f"{self.content_type_id}:{self.object_id}"


class Comment(models.Model):
    exception = models.ForeignKey(Exception, on_delete=models.CASCADE, related_name="comments")
    author_id = models.BigIntegerField(null=True, blank=True)
    author_label = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author_label}: {self.body[:60]}"


class Activity(models.Model):
    """Every state change: who (a person, a key, or the system) did what, when."""

    exception = models.ForeignKey(Exception, on_delete=models.CASCADE, related_name="activities")
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    manual = models.BooleanField(default=False, help_text="Done by a person (counts as an intervention).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action}"
