"""Alerts about exceptions: assignee emails and partner/tenant alert rules (email + signed webhook).

A storm of failures sends one message per group and rule: each (rule, tenant, group, trigger) is
sent at most once per DEDUPE_SECONDS, claimed atomically in Redis (SET NX), so parallel workers
never both send it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_redis import get_redis_connection

from tenants.brand import brand_for_partner, brand_sender
from tenants.models import Tenant
from tenants.webhooks import webhook_event_emit
from triage.models import Exception as TriageException
from triage.models import Severity
from triage.partner.models import AlertRule

log = structlog.get_logger(__name__)
DEDUPE_SECONDS = 6 * 3600


def _claim(key: str) -> bool:
    return bool(get_redis_connection("default").set(f"tb:alert:{key}", 1, nx=True, ex=DEDUPE_SECONDS))


def _exception_url(tenant: Tenant, exception: TriageException) -> str:
    domain = tenant.get_primary_domain()
    port = "" if settings.PORTAL_PORT in (80, 443) else f":{settings.PORTAL_PORT}"
    host = domain.domain if domain else ""
    return f"{settings.PORTAL_SCHEME}://{host}{port}/exceptions/{exception.pk}/"


def _send(*, tenant: Tenant, exception: TriageException, subject: str, body: str, to: list[str]) -> None:
    brand = brand_for_partner(tenant.partner)
    send_mail(f"[{brand.name}] {subject}", body, brand_sender(brand), to)


def assignee_notify(*, exception_id: int) -> bool:
    """Email the assignee once per assignment (called after commit, in the tenant schema)."""
    tenant = connection.tenant
    exception = TriageException.objects.filter(pk=exception_id).first()
    if exception is None or not exception.assignee_email:
        return False
    if not _claim(f"assign:{tenant.pk}:{exception.pk}:{exception.assignee_id}:{exception.last_seen.timestamp()}"):
        return False
    _send(
        tenant=tenant,
        exception=exception,
        subject=f"Assigned to you: {exception.title}",
        body=(
            f"{tenant.name}: {exception.get_kind_display()} exception assigned to you.\n\n"
            f"{exception.title}\n{exception.detail}\n\nSeen {exception.count} time(s); SLA due "
            f"{exception.sla_due:%Y-%m-%d %H:%M} UTC.\n{_exception_url(tenant, exception)}\n"
        ),
        to=[exception.assignee_email],
    )
    return True


def _rule_matches(rule: AlertRule, exception: TriageException, trigger: str, now: dt.datetime) -> bool:
    if rule.trigger == AlertRule.Trigger.COUNT_OVER:
        if trigger not in ("raised", "new_group"):
            return False
        since = now - dt.timedelta(minutes=rule.window_minutes)
        recent = exception.occurrences.filter(last_seen__gte=since).count()
        return recent > rule.threshold or (exception.last_seen >= since and exception.count > rule.threshold)
    if rule.trigger == AlertRule.Trigger.CRITICAL:
        return trigger in ("raised", "new_group") and exception.severity == Severity.CRITICAL
    return rule.trigger == trigger


def alerts_evaluate(*, exception_id: int, trigger: str) -> int:
    """Apply the tenant's and its partner's active rules to one exception event; returns messages sent.

    `trigger` is `new_group` (new or reopened group), `raised` (a recurrence) or `sla_breach`."""
    tenant = connection.tenant
    exception = TriageException.objects.filter(pk=exception_id).first()
    if exception is None:
        return 0
    now = timezone.now()
    rules = AlertRule.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True), partner_id=tenant.partner_id, active=True
    )
    sent = 0
    for rule in rules:
        if not _rule_matches(rule, exception, trigger, now):
            continue
        if not _claim(f"rule:{rule.pk}:{tenant.pk}:{exception.pk}:{rule.trigger}"):
            continue
        alert_deliver(rule=rule, tenant=tenant, exception=exception)
        sent += 1
    return sent


def alert_deliver(
    *, rule: AlertRule, tenant: Tenant, exception: TriageException, health: dict[str, Any] | None = None
) -> None:
    """Send one rule's alert about one exception: its emails, and the signed `exception.alert`
    webhook. `health` is a flow-health alert's measurement (value, threshold, subject)."""
    if rule.emails:
        measured = f"\nMeasured {health['value']} against a threshold of {health['threshold']}.\n" if health else ""
        _send(
            tenant=tenant,
            exception=exception,
            subject=f"{rule.name}: {exception.title}",
            body=(
                f"{tenant.name}: {exception.get_severity_display()} {exception.get_kind_display()} exception.\n\n"
                f"{exception.title}\n{exception.detail}\n{measured}\nSeen {exception.count} time(s).\n"
                f"{_exception_url(tenant, exception)}\n"
            ),
            to=list(rule.emails),
        )
    if rule.webhook:
        payload: dict[str, Any] = {
            "tenant": tenant.slug,
            "rule": {"id": rule.pk, "name": rule.name, "trigger": rule.trigger},
            "exception": {
                "id": exception.pk,
                "kind": exception.kind,
                "severity": exception.severity,
                "title": exception.title,
                "count": exception.count,
            },
        }
        if health is not None:
            payload["health"] = health
        webhook_event_emit(partner=tenant.partner, event="exception.alert", payload=payload)
    log.info("triage.alert_sent", rule=rule.pk, exception_id=exception.pk, trigger=rule.trigger)


def platform_alert_deliver(*, rule: AlertRule, age: float | None) -> None:
    """A platform-wide alert (the worker heartbeat) to a partner-wide rule: emails in the
    partner's brand and the signed webhook, with no tenant and no exception."""
    seen = "no worker heartbeat at all" if age is None else f"the last worker heartbeat was {round(age)} s ago"
    title = f"Workers are not running: {seen}"
    if rule.emails:
        brand = brand_for_partner(rule.partner)
        body = (
            f"{title}.\n\nNo events are processed, no journals are pushed and no periodic checks run "
            f"until a worker is back.\nRule: {rule.name} (threshold {rule.threshold} s).\n"
        )
        send_mail(f"[{brand.name}] {rule.name}: {title}", body, brand_sender(brand), list(rule.emails))
    if rule.webhook:
        webhook_event_emit(
            partner=rule.partner,
            event="exception.alert",
            payload={
                "tenant": None,
                "rule": {"id": rule.pk, "name": rule.name, "trigger": rule.trigger},
                "exception": None,
                "health": {"value": None if age is None else round(age, 1), "threshold": rule.threshold},
                "title": title,
            },
        )
    log.warning("triage.platform_alert_sent", rule=rule.pk, trigger=rule.trigger, age=age)
