"""What every promotion transition shares (issue 8): the tenant it runs in, who acts, the four-eyes
check, the row lock, the refusal of an illegal transition and the audit row.

Every transition locks the promotion row first (`select_for_update`), so two people approving or
publishing at once serialise: the second sees the first's result and either returns it unchanged
(idempotent) or is refused. Refusals are `ValidationError` (an illegal transition or bad input: 400
in the API) or `PermissionDenied` (self-approval, a role that may not approve: 403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from core.tenancy import tenant_zone
from promotions.models import Promotion
from tenants.api_keys import ACTOR_LABEL_PREFIX, api_key_person
from tenants.audit import audit_record_in_tenant
from tenants.models import Membership, Tenant, User

APPROVER_ROLES = frozenset(
    {Membership.Role.TENANT_ADMIN, Membership.Role.PARTNER_ADMIN, Membership.Role.PARTNER_OPERATOR}
)
# Who may approve a version whose margin falls below the tenant's minimum (issue 20): the retailer's
# own admin, who owns the margin and its budget; a partner operating the integration may not sign it off.
FINANCE_ROLES = frozenset({Membership.Role.TENANT_ADMIN})


def _tenant() -> Tenant:
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant) or tenant.partner_id is None:
        raise RuntimeError("Promotions live in a tenant schema.")
    return tenant


@dataclass(frozen=True)
class Author:
    """Who wrote a version: a person whenever there is one (four eyes, DESIGN.md §7), and the key
    it came through, if any. A key no person owns is recorded as the author itself."""

    id: int | None
    email: str
    key: str = ""

    @property
    def fields(self) -> dict[str, Any]:
        return {"author_id": self.id, "author_email": self.email, "author_key": self.key}


def _who(actor: User | None, actor_label: str | None) -> Author:
    if actor is not None:
        return Author(actor.pk, actor.email)
    if actor_label and actor_label.startswith(ACTOR_LABEL_PREFIX):
        person = api_key_person(actor_label=actor_label)
        if person is not None:
            return Author(person.pk, person.email, actor_label)
        return Author(None, actor_label, actor_label)
    return Author(None, actor_label or "system")


def four_eyes_check(
    *,
    author_id: int | None,
    author_email: str,
    author_key: str,
    actor: User | None,
    verb: str = "approve or reject",
) -> None:
    """Refuse an approval or rejection by the version's own author. Approving takes a person (a
    session): never a key or the system. A version written by person P, in a session or through
    any of P's keys, is never approved by P; one written by a key no person owns may be approved
    by any person with the role. Versions written through a key before authors were resolved to
    people (author_email holds the key's label) are resolved here."""
    if actor is None:
        raise PermissionDenied(f"It takes a person to {verb} a version, not an API key or the system.")
    if author_id is None:
        label = author_key or (author_email if author_email.startswith(ACTOR_LABEL_PREFIX) else "")
        person = api_key_person(actor_label=label)
        author_id, author_key = (person.pk, label) if person is not None else (None, author_key)
    if author_id is not None and actor.pk == author_id:
        through = f" (through your API key {author_key.removeprefix(ACTOR_LABEL_PREFIX)})" if author_key else ""
        raise PermissionDenied(f"You wrote this version{through}, so another person must {verb} it.")


def _audit(
    promotion: Promotion, action: str, *, actor: User | None, actor_label: str | None, changes: dict | None = None
) -> None:
    _tenant()  # promotions are audited in their tenant's schema only
    audit_record_in_tenant(
        actor=actor, actor_label=actor_label, action=f"promotion.{action}", target=promotion, changes=changes
    )


def _locked(promotion: Promotion) -> Promotion:
    # No select_related here: after waiting for the lock, PostgreSQL re-reads the locked row but
    # not the joined ones, so a joined version could be the stale one from before the wait.
    # Reading the relations in later statements sees what the other transaction committed.
    return Promotion.objects.select_for_update().get(pk=promotion.pk)


def _refuse(promotion: Promotion, action: str, allowed: Iterable[str]) -> None:
    if promotion.status not in allowed:
        names = ", ".join(sorted(allowed))
        raise ValidationError(
            {"status": f"Cannot {action} a promotion that is {promotion.status}; it must be one of: {names}."},
            code="illegal_transition",
        )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """Naive times are wall-clock times in the tenant's timezone."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, tenant_zone())
