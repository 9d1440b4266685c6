"""Alert rules (public schema: partner-wide or one tenant): creating and deactivating them, audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from tenants.audit import audit_record
from tenants.models import Partner, Tenant, User
from triage.partner.models import HEALTH_TRIGGERS, AlertRule


@transaction.atomic
def alert_rule_create(
    *,
    partner: Partner,
    name: str,
    trigger: str,
    tenant: Tenant | None = None,
    threshold: int = 0,
    window_minutes: int = 60,
    emails: Iterable[str] = (),
    webhook: bool = True,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AlertRule:
    name = (name or "").strip()
    emails = sorted({email.strip().lower() for email in emails if email.strip()})
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the rule."
    if trigger not in AlertRule.Trigger.values:
        errors["trigger"] = f"Unknown trigger {trigger!r}."
    if tenant is not None and tenant.partner_id != partner.pk:
        errors["tenant"] = "That tenant is not one of yours."
    if trigger == AlertRule.Trigger.COUNT_OVER and (threshold < 1 or window_minutes < 1):
        errors["threshold"] = "A count rule needs N ≥ 1 occurrences within M ≥ 1 minutes."
    if trigger in HEALTH_TRIGGERS and threshold < 1:
        errors["threshold"] = "A flow-health rule needs N ≥ 1 (minutes, seconds or orders: see the trigger)."
    if trigger == AlertRule.Trigger.WORKER_HEARTBEAT and tenant is not None:
        errors["tenant"] = "The worker heartbeat is platform-wide: make this rule for all tenants."
    if not emails and not webhook:
        errors["emails"] = "Send the alert somewhere: add an email address or keep the webhook on."
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            errors["emails"] = f"{email!r} is not an email address."
    if errors:
        raise ValidationError(errors)
    rule = AlertRule.objects.create(
        partner=partner,
        tenant=tenant,
        name=name[:120],
        trigger=trigger,
        threshold=threshold,
        window_minutes=window_minutes,
        emails=emails,
        webhook=webhook,
    )
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="alert_rule.created",
        target=rule,
        partner=partner,
        tenant=tenant,
        changes={"trigger": trigger, "emails": emails, "webhook": webhook},
    )
    return rule


@transaction.atomic
def alert_rule_deactivate(*, rule: AlertRule, actor: User | None = None, actor_label: str | None = None) -> AlertRule:
    if rule.active:
        rule.active = False
        rule.save(update_fields=["active"])
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action="alert_rule.deactivated",
            target=rule,
            partner=rule.partner,
            tenant=rule.tenant,
        )
    return rule
