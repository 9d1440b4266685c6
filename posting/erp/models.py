"""Where journals go and how each push went (tenant schema), in the `erp` app. The tables keep the
names they were created with in the posting app."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.models import Singleton


class ErpTarget(Singleton):
    """The tenant's posting target: the built-in ledger (no connection) or one ERP connection.
    Switching keeps every journal and every earlier push: journals dated before `since` stay
    acknowledged where they were; journals from `since` on go to the new target."""

    connection = models.ForeignKey(
        "connectors.Connection", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    since = models.DateField(null=True, blank=True)
    changed_at = models.DateTimeField(auto_now=True)
    # Set by the first push that could not reach the target (no answer, 5xx, credentials refused)
    # after its last acknowledgement, cleared by the next acknowledgement or a switch: the
    # `erp_unreachable` alert (triage/health.py) measures from it.
    unreachable_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "posting_erptarget"
        constraints = [models.CheckConstraint(condition=Q(singleton=1), name="posting_erp_target_singleton")]

    def __str__(self) -> str:
        return f"ERP target: {self.connection or 'built-in ledger'}"

    @property
    def key(self) -> str:
        return f"connection:{self.connection_id}" if self.connection_id else "builtin_ledger"


class ErpPush(models.Model):
    """One journal entry's push to one target. Unique per (entry, target): re-pushes update it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PUSHING = "pushing", "Pushing"
        ACKED = "acked", "Acknowledged"
        FAILED = "failed", "Failed"

    entry = models.ForeignKey("posting.JournalEntry", on_delete=models.CASCADE, related_name="erp_pushes")
    connection = models.ForeignKey(
        "connectors.Connection", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    target_key = models.CharField(max_length=40)
    vendor = models.CharField(max_length=20)
    reference = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    external_id = models.CharField(max_length=120, blank=True)
    erp_number = models.CharField(max_length=120, blank=True)
    erp_state = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    # When the ERP answered "period closed" for the entry's date: the date the journal was sent
    # with instead (the tenant-local day of that answer), noted in the journal's memo.
    moved_to = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    acked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "posting_erppush"
        ordering = ["-updated_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["entry", "target_key"], name="posting_erp_push_unique")]
        indexes = [models.Index(fields=["status", "updated_at"], name="posting_erp_push_status")]

    def __str__(self) -> str:
        return f"{self.reference} → {self.vendor}: {self.status}"


class ChartImport(models.Model):
    """A chart of accounts fetched from an ERP and the differences it would make, kept so the
    person applies exactly what they were shown."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Awaiting review"
        APPLIED = "applied", "Applied"
        DISCARDED = "discarded", "Discarded"

    connection = models.ForeignKey("connectors.Connection", on_delete=models.CASCADE, related_name="+")
    vendor = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    chart = models.JSONField(default=dict)  # {"accounts": [...], "tax_codes": [...], "dimensions": [...]}
    diff = models.JSONField(default=dict)  # see posting.erp.chart.ChartDiff.as_dict
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "posting_chartimport"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Chart import {self.pk} from {self.vendor} ({self.status})"
