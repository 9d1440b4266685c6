"""Posting policy and the journal (tenant schema). Balance is enforced twice: by the posting service
before it writes, and by a deferred constraint trigger (migration 0002) at commit, so no code path,
raw SQL included, can commit an entry whose debits and credits differ."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.models import MONEY, Singleton, UpdatedByDatabase


class PostingPolicy(Singleton):
    """One row per tenant schema (`singleton` is always 1). Defaults: recognise revenue when paid,
        discounts shown gross (revenue at list price, a separate discount debit), order-level discounts
        allocated to lines, one journal entry per document, daily batch window, cut-off at midnight, a
    refund with an amount but no lines (less than what is left) prorated over what is left."""

    class Recognise(models.TextChoices):
        PAID = "paid", "When paid"
        FULFILLED = "fulfilled", "When fulfilled"

    class Discounts(models.TextChoices):
        GROSS = "gross", "Gross (separate discount line)"
        NET = "net", "Net (revenue after discount)"

    class Allocation(models.TextChoices):
        LINES = "lines", "Allocate order discounts to lines"
        ORDER = "order", "Post order discounts at order level"

    class Mode(models.TextChoices):
        PER_DOCUMENT = "per_document", "One entry per document"
        BATCHED = "batched", "Batched per window"

    class Window(models.TextChoices):
        HOURLY = "hourly", "Hourly"
        DAILY = "daily", "Daily"

    class UnallocatedRefunds(models.TextChoices):
        PRORATE = "prorate", "Pro rata over remaining revenue, shipping and tax"
        REFUNDS_ACCOUNT = "refunds_account", "Whole amount to the refunds account"

    recognise_on = models.CharField(max_length=10, choices=Recognise.choices, default=Recognise.PAID)
    discounts = models.CharField(max_length=10, choices=Discounts.choices, default=Discounts.GROSS)
    allocation = models.CharField(max_length=10, choices=Allocation.choices, default=Allocation.LINES)
    mode = models.CharField(max_length=14, choices=Mode.choices, default=Mode.PER_DOCUMENT)
    batch_window = models.CharField(max_length=10, choices=Window.choices, default=Window.DAILY)
    cutoff_hour = models.PositiveSmallIntegerField(default=0)
    # A refund with an amount but no lines, less than what is left to refund (DESIGN.md §4).
    unallocated_refunds = models.CharField(
        max_length=16, choices=UnallocatedRefunds.choices, default=UnallocatedRefunds.PRORATE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "posting policies"
        constraints = [
            models.CheckConstraint(condition=Q(singleton=1), name="posting_policy_singleton"),
            models.CheckConstraint(condition=Q(cutoff_hour__lte=23), name="posting_policy_cutoff_hour"),
        ]

    def __str__(self) -> str:
        return "Posting policy"


class PeriodClose(Singleton):
    """The built-in ledger's closed periods (one row per tenant schema): every date up to and
    including `closed_through` (a month end) is closed. No entry is ever dated in a closed period:
    the posting services move it to the first open date with a memo saying so. Closing and
    reopening are audited (posting.periods)."""

    closed_through = models.DateField(null=True, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(singleton=1), name="posting_period_close_singleton")]

    def __str__(self) -> str:
        return f"Ledger closed through {self.closed_through}" if self.closed_through else "Ledger: no closed period"


class PostingBatch(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start"]
        constraints = [models.UniqueConstraint(fields=["window_start", "currency"], name="posting_batch_window_unique")]

    def __str__(self) -> str:
        return f"Batch {self.window_start:%Y-%m-%d %H:%M} {self.currency}"


class JournalEntry(UpdatedByDatabase):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        READY = "ready", "Ready to push"
        PUSHED = "pushed", "Pushed"
        ACKED = "acked", "Acknowledged"
        FAILED = "failed", "Failed"

    source_key = models.CharField(max_length=200, unique=True)
    date = models.DateField()
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.READY)
    reverses = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals")
    batch = models.ForeignKey(PostingBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="entries")
    external_ref = models.CharField(max_length=120, blank=True)
    # The trace of the inbound event that posted it (empty for batches and manual posts): its push logs under it.
    trace_id = models.CharField(max_length=32, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "-pk"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["updated_at"], name="posting_entry_updated_idx")]

    def __str__(self) -> str:
        return f"JE {self.pk} {self.source_key}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    account = models.ForeignKey("mappings.Account", on_delete=models.PROTECT, related_name="journal_lines")
    role = models.CharField(max_length=40)
    debit = models.DecimalField(**MONEY, default=0)
    credit = models.DecimalField(**MONEY, default=0)
    dimensions = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=255, blank=True)
    # Drill-down: [{"type": "order", "id": 12, "external_id": "1001", "raw_event_id": 77}, ...]
    sources = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["entry_id", "position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debit__gte=0, credit__gte=0) & (Q(debit=0) | Q(credit=0)),
                name="posting_line_one_sided",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} Dr {self.debit} Cr {self.credit}"


class Reconciliation(models.Model):
    """The latest check of one payout: every line matched to the document it settles (charges, refunds)
    or to the payout journal's line of its role (fees, adjustments, reserve), or shown in suspense.
    `matched`: every line matched; `differences`: some lines matched, others not or in suspense;
    `unmatched`: no line matched at all."""

    class Status(models.TextChoices):
        MATCHED = "matched", "Matched"
        DIFFERENCES = "differences", "Differences"
        UNMATCHED = "unmatched", "Unmatched"

    payout = models.OneToOneField("commerce.Payout", on_delete=models.CASCADE, related_name="reconciliation")
    status = models.CharField(max_length=12, choices=Status.choices)
    matched = models.PositiveIntegerField(default=0)
    # [{"line": 0, "reference": "1001", "expected": "170.30", "actual": "170.00", "reason": "..."}]
    differences = models.JSONField(default=list, blank=True)
    # One row per payout line, in order: its state (matched / unmatched / suspense), the role or
    # document it was matched to, what was expected and the difference (see payout_reconcile).
    lines = models.JSONField(default=list, blank=True)
    # Sum over the lines not matched (paid out less expected, or the whole line when nothing was).
    difference = models.DecimalField(**MONEY, default=0)
    checked_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["checked_at"], name="posting_recon_checked_idx")]

    def __str__(self) -> str:
        return f"Reconciliation of payout {self.payout_id}: {self.status}"
