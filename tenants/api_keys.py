"""API keys: create (the secret is returned once), revoke, and check a presented key.

A key reads `tb_live_<8 hex>_<secret>`; its first part is the stored, visible prefix. Only an
HMAC-SHA256 of the whole key, peppered with SECRET_KEY, is stored, and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.api.auth import ADMIN, READ, WRITE
from tenants.audit import audit_record
from tenants.models import ApiKey, Membership, Partner, Tenant, User

KEY_PREFIX = "tb_live_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
# What a session user's role may do through the API (an API key carries its own scopes).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Membership.Role.PARTNER_ADMIN: frozenset({READ, WRITE, ADMIN}),
    Membership.Role.PARTNER_OPERATOR: frozenset({READ, WRITE}),
    Membership.Role.TENANT_ADMIN: frozenset({READ, WRITE, ADMIN}),
    Membership.Role.TENANT_VIEWER: frozenset({READ}),
}


PREFIX_LENGTH = len(KEY_PREFIX) + 8


def api_key_prefix(raw_key: str) -> str | None:
    """The visible prefix of a presented key (`tb_live_ab12cd34`), or None if it is not shaped like one."""
    if len(raw_key) <= PREFIX_LENGTH + 1 or not raw_key.startswith(KEY_PREFIX) or raw_key[PREFIX_LENGTH] != "_":
        return None
    return raw_key[:PREFIX_LENGTH]


def api_key_hash(raw_key: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), raw_key.encode(), hashlib.sha256).hexdigest()


ACTOR_LABEL_PREFIX = "api-key:"


def api_key_person(*, actor_label: str | None) -> User | None:
    """The person behind a key-authenticated action (`actor_label` is `api-key:<prefix>`): the
    user who made the key, or None for a key no person owns (made by the system or by an ownerless
    key). Four-eyes checks use it, so a person acting through their key is still that person."""
    if not actor_label or not actor_label.startswith(ACTOR_LABEL_PREFIX):
        return None
    prefix = actor_label[len(ACTOR_LABEL_PREFIX) :]
    api_key = ApiKey.objects.select_related("created_by").filter(prefix=prefix).first()
    return api_key.created_by if api_key is not None else None


@dataclass(frozen=True)
class ApiKeyCreated:
    api_key: ApiKey
    raw_key: str


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: list[str],
    partner: Partner | None = None,
    tenant: Tenant | None = None,
    expires_at: datetime | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> ApiKeyCreated:
    if (partner is None) == (tenant is None):
        raise ValidationError("An API key belongs to a partner or to a tenant, not both.")
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "A key needs a name."
    if not scopes or any(scope not in ApiKey.Scope.values for scope in scopes):
        errors["scopes"] = f"Choose one or more of {', '.join(ApiKey.Scope.values)}."
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = "The expiry must be in the future."
    if errors:
        raise ValidationError(errors)
    prefix = KEY_PREFIX + secrets.token_hex(4)
    raw_key = f"{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        secret_hash=api_key_hash(raw_key),
        scopes=sorted(set(scopes)),
        partner=partner,
        tenant=tenant,
        # A key made through another key belongs to that key's person, so a chain of keys never
        # sheds the person behind it (four eyes, DESIGN.md §7).
        created_by=actor if actor is not None else api_key_person(actor_label=actor_label),
        expires_at=expires_at,
    )
    audit_record(
        actor=actor,
        action="api_key.create",
        target=api_key,
        partner=partner or tenant.partner,
        tenant=tenant,
        changes={"prefix": prefix, "scopes": api_key.scopes},
        actor_label=actor_label,
    )
    return ApiKeyCreated(api_key=api_key, raw_key=raw_key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None, actor_label: str | None = None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_key.revoke",
            target=api_key,
            partner=api_key.partner or api_key.tenant.partner,
            tenant=api_key.tenant,
            changes={"prefix": api_key.prefix},
            actor_label=actor_label,
        )
    return api_key


def api_key_check(*, raw_key: str) -> ApiKey | None:
    """The usable key matching `raw_key`, or None (unknown, wrong secret, expired or revoked)."""
    prefix = api_key_prefix(raw_key)
    if prefix is None:
        return None
    api_key = ApiKey.objects.select_related("partner", "tenant", "tenant__partner").filter(prefix=prefix).first()
    if api_key is None:
        api_key_hash(raw_key)  # same work for unknown prefixes as for known ones
        return None
    if not hmac.compare_digest(api_key.secret_hash, api_key_hash(raw_key)) or not api_key.is_usable():
        return None
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, writing at most once a minute per key."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def api_keys_for_partner(*, partner: Partner) -> QuerySet[ApiKey]:
    """The partner's own keys and its tenants' keys."""
    return ApiKey.objects.filter(Q(partner=partner) | Q(tenant__partner=partner)).select_related("tenant")


def api_keys_for_tenant(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).select_related("tenant")
