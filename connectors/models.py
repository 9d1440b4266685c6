"""Connections to vendors, the transactional inbox of their events, and sync runs (tenant schema).

Credentials and webhook secrets are stored encrypted (core/crypto.py) and only ever read
through the `credentials` / `webhook_secret` properties; no form, serializer or log prints them."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from core.crypto import dict_decrypt, dict_encrypt
from core.encrypted import encrypted_property
from core.models import UpdatedByDatabase


class Connection(models.Model):
    class Vendor(models.TextChoices):
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"
        SQUARE = "square", "Square"
        STRIPE = "stripe", "Stripe"
        CSV = "csv", "CSV file drop"
        BUILTIN_LEDGER = "builtin_ledger", "Built-in ledger"
        ODOO = "odoo", "Odoo"
        ERPNEXT = "erpnext", "ERPNext"
        QUICKBOOKS = "quickbooks", "QuickBooks Online"
        XERO = "xero", "Xero"
        NETSUITE = "netsuite", "NetSuite"
        SHIPSTATION = "shipstation", "ShipStation"

    class Direction(models.TextChoices):
        SOURCE = "source", "Source (sales channel)"
        ERP = "erp", "ERP (posting target)"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ERROR = "error", "Error"

    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.SOURCE)
    name = models.CharField(max_length=120)
    config = models.JSONField(default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="")
    webhook_secret_encrypted = models.TextField(blank=True, default="")
    credentials = encrypted_property("credentials_encrypted", encrypt=dict_encrypt, decrypt=dict_decrypt)
    webhook_secret = encrypted_property("webhook_secret_encrypted")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    cursor = models.JSONField(default=dict, blank=True)
    sync_interval_minutes = models.PositiveIntegerField(default=15)
    next_sync_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True, help_text="When the OAuth access token expires.")
    refresh_token_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the OAuth refresh token lapses if it is not used (QuickBooks, Xero)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["status", "next_sync_at"], name="connectors_conn_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"

    def get_absolute_url(self) -> str:
        return reverse("connectors_connection", kwargs={"connection_id": self.pk})

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental"
        MANUAL = "manual", "Sync now"
        BACKFILL = "backfill", "Backfill"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCREMENTAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    since = models.DateTimeField(null=True, blank=True)  # backfill start
    cursor = models.JSONField(default=dict, blank=True)  # where the next page starts; saved after each page
    topics = models.JSONField(default=list, blank=True)
    pages = models.PositiveIntegerField(default=0)
    records = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="connectors_run_status_idx")]

    def __str__(self) -> str:
        return f"Sync run {self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("connectors_run", kwargs={"run_id": self.pk})

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)


class InboundEvent(UpdatedByDatabase):
    """One vendor event or polled record, stored before anything else happens to it."""

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        POLL = "poll", "Poll"
        FILE = "file", "File"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        HELD = "held", "Held (tenant suspended)"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead letter"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEBHOOK)
    topic = models.CharField(max_length=80)
    external_id = models.CharField(max_length=120)
    payload_hash = models.CharField(max_length=64)
    body = models.TextField()  # the raw bytes as received (UTF-8), kept for replay and audit
    headers = models.JSONField(default=dict, blank=True)  # vendor metadata headers, never secrets
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    result = models.JSONField(default=dict, blank=True)
    sync_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "topic", "external_id", "payload_hash"], name="connectors_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="connectors_event_status_idx"),
            models.Index(fields=["updated_at"], name="connectors_event_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.external_id}"

    def get_absolute_url(self) -> str:
        return reverse("connectors_event", kwargs={"event_id": self.pk})
