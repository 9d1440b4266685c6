"""The partner-wide exception index and alert rules (public schema; see the package docstring)."""

from __future__ import annotations

from django.db import models

from tenants.models import Partner, Tenant
from triage.models import GroupSummary


class TriageIndex(GroupSummary):
    """One row per tenant exception, in public, written in the same transaction as the tenant row
    (triage.services), so the partner-wide inbox never queries tenant schemas (DESIGN.md §5)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="triage_index")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="triage_index")
    exception_id = models.BigIntegerField()
    kind = models.CharField(max_length=24)
    severity = models.CharField(max_length=8)
    severity_rank = models.PositiveSmallIntegerField(help_text="0 = critical … 3 = low, for sorting.")
    fix_class = models.CharField(max_length=16)
    status = models.CharField(max_length=8)
    sla_breached = models.BooleanField(default=False)

    class Meta:
        db_table = "tenants_triageindex"  # moved from tenants without moving data
        ordering = ["sla_due", "pk"]
        constraints = [models.UniqueConstraint(fields=["tenant", "exception_id"], name="triage_index_unique")]
        indexes = [
            models.Index(fields=["partner", "status", "sla_due"], name="triage_idx_partner_status"),
            models.Index(fields=["partner", "severity", "status", "sla_due"], name="triage_idx_partner_sev"),
            models.Index(fields=["partner", "status", "-money_at_risk"], name="triage_idx_partner_money"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.exception_id} {self.title}"


class AlertRule(models.Model):
    """When to tell people about exceptions, or about the flow's health (triage/health.py):
    partner-wide (tenant empty) or for one tenant."""

    class Trigger(models.TextChoices):
        NEW_GROUP = "new_group", "A new exception group appears (or one reopens)"
        CRITICAL = "critical", "A critical exception is raised"
        SLA_BREACH = "sla_breach", "An exception breaches its SLA"
        COUNT_OVER = "count_over", "A group recurs more than N times in M minutes"
        BACKLOG_AGE = "backlog_age", "Backlog: the oldest unprocessed event is older than N minutes"
        SYNC_LATENCY = "sync_latency", "Sync latency: p95 from receipt to processing over N seconds in M minutes"
        ERP_UNREACHABLE = "erp_unreachable", "ERP unreachable: every push has failed for N minutes"
        WORKER_HEARTBEAT = "worker_heartbeat", "Worker heartbeat missing for N seconds (platform-wide)"
        CHANNEL_SILENCE = "channel_silence", "Channel silence: a channel expecting ≥ N orders this hour sends none"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="alert_rules")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules")
    name = models.CharField(max_length=120)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    threshold = models.PositiveIntegerField(default=0, help_text="N of the trigger (count, minutes, seconds, orders).")
    window_minutes = models.PositiveIntegerField(default=60, help_text="M for count_over and sync_latency.")
    emails = models.JSONField(default=list, blank=True)
    webhook = models.BooleanField(default=True, help_text="Also send the signed `exception.alert` webhook.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenants_alertrule"  # moved from tenants without moving data
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_trigger_display()})"


# Flow-health triggers evaluated per tenant by the periodic check, and the platform-wide one.
TENANT_HEALTH_TRIGGERS = (
    AlertRule.Trigger.BACKLOG_AGE,
    AlertRule.Trigger.SYNC_LATENCY,
    AlertRule.Trigger.ERP_UNREACHABLE,
    AlertRule.Trigger.CHANNEL_SILENCE,
)
HEALTH_TRIGGERS = (*TENANT_HEALTH_TRIGGERS, AlertRule.Trigger.WORKER_HEARTBEAT)
