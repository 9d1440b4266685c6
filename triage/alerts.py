"""Alerts about exceptions: assignee emails and partner/tenant alert rules (email + signed webhook).

A storm of failures sends one message per group and rule: each (rule, tenant, group, trigger) is
sent at most once per DEDUPE_SECONDS, claimed atomically in Redis (SET NX), so parallel workers
never both send it.
"""

from __future__ import annotations

import datetime as dt

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
        if rule.emails:
            _send(
                tenant=tenant,
                exception=exception,
                subject=f"{rule.name}: {exception.title}",
                body=(
                    f"{tenant.name}: {exception.get_severity_display()} {exception.get_kind_display()} exception.\n\n"
                    f"{exception.title}\n{exception.detail}\n\nSeen {exception.count} time(s).\n"
                    f"{_exception_url(tenant, exception)}\n"
                ),
                to=list(rule.emails),
            )
        if rule.webhook:
            webhook_event_emit(
                partner=tenant.partner,
                event="exception.alert",
                payload={
                    "tenant": tenant.slug,
                    "rule": {"id": rule.pk, "name": rule.name, "trigger": rule.trigger},
                    "exception": {
                        "id": exception.pk,
                        "kind": exception.kind,
                        "severity": exception.severity,
                        "title": exception.title,
                        "count": exception.count,
                    },
                },
            )
        sent += 1
        log.info("triage.alert_sent", rule=rule.pk, exception_id=exception.pk, trigger=rule.trigger)
    return sent
