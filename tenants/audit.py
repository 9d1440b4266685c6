"""The audit log: who changed what, when and from where (DESIGN.md §7). Every write by a person or
an API key records an AuditEvent through `audit_record` (public schema) or `audit_record_in_tenant`
(a change inside a tenant's schema); `audit_diff` records what changed, never a secret's value."""

from __future__ import annotations

from django.db import connection as db_connection
from django.db.models import Model

from core.context import client_ip_var, request_id_var
from tenants.models import AuditEvent, Partner, Tenant, User


def _actor_label(actor: User | None, actor_label: str | None) -> str:
    if actor_label:
        return actor_label
    return actor.email if actor is not None else "system"


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Model,
    partner: Partner | None = None,
    tenant: Tenant | None = None,
    changes: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=_actor_label(actor, actor_label),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        partner=partner,
        tenant=tenant,
        ip_address=client_ip_var.get(),
        changes=changes or {},
        request_id=(request_id_var.get() or "")[:64],
    )


def audit_record_in_tenant(
    *,
    actor: User | None,
    action: str,
    target: Model,
    changes: dict | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """An audit record for a change inside the current tenant schema (a tenant's connections,
    posting policy, ERP target, chart): the tenant and its partner are the schema's."""
    tenant = getattr(db_connection, "tenant", None)
    if not isinstance(tenant, Tenant) or tenant.pk is None:
        tenant = None
    return audit_record(
        actor=actor,
        actor_label=actor_label,
        action=action,
        target=target,
        tenant=tenant,
        partner=tenant.partner if tenant is not None else None,
        changes=changes,
    )


SECRET_WORDS = ("secret", "token", "password", "api_key", "apikey", "private", "signature", "credential")


def audit_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def audit_diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} of what changed, never a secret's value: a field whose name looks secret
    is recorded as "changed" (nested dicts, such as a connection's config, are diffed the same way)."""
    diff: dict = {}
    for name in sorted(set(before) | set(after), key=str):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if audit_secret_name(str(name)):
            diff[name] = "changed"
        elif isinstance(old, dict | None) and isinstance(new, dict | None):
            diff[name] = audit_diff(old or {}, new or {})
        elif isinstance(old, dict) or isinstance(new, dict):
            diff[name] = "changed"
        else:
            diff[name] = [_jsonable(old), _jsonable(new)]
    return diff


def audit_secret_changes(before: dict, after: dict) -> str:
    """ "changed: a, b; removed: c" naming the secret fields that changed, without their values."""
    changed = sorted(name for name in after if name in before and before[name] != after[name])
    added = sorted(name for name in after if name not in before)
    removed = sorted(name for name in before if name not in after)
    parts = []
    if changed or added:
        parts.append("changed: " + ", ".join(sorted(changed + added)))
    if removed:
        parts.append("removed: " + ", ".join(removed))
    return "; ".join(parts)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str, list)):
        return value
    return str(value)
