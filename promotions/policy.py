"""The tenant's promotion policy (issue 20): the minimum margin, budget warnings, the stock guard's
hysteresis and the days after which an underpaid vendor claim is raised. Changing it is a finance
decision: only the finance roles may (a person who may approve but not below the minimum margin must
not be able to lower the minimum instead)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from promotions.models import PromotionPolicy
from promotions.transitions import FINANCE_ROLES, _tenant
from tenants.audit import audit_diff, audit_record_in_tenant
from tenants.models import User
from tenants.selectors import membership_role_for_tenant


def promotion_policy_get() -> PromotionPolicy:
    """The tenant's policy, or the defaults (unsaved) when it was never changed: reading writes nothing."""
    return PromotionPolicy.read()


def _snapshot(policy: PromotionPolicy) -> dict[str, Any]:
    minimum = policy.min_margin_percent
    return {
        "min_margin_percent": f"{Decimal(minimum):.2f}" if minimum is not None else None,
        "budget_warn_percents": list(policy.budget_warn_percents or []),
        "stock_hysteresis": policy.stock_hysteresis,
        "claim_overdue_days": policy.claim_overdue_days,
    }


@transaction.atomic
def promotion_policy_update(
    *,
    actor: User | None,
    min_margin_percent: Decimal | None,
    budget_warn_percents: list[int],
    stock_hysteresis: int,
    claim_overdue_days: int | None = None,
) -> PromotionPolicy:
    if actor is None or membership_role_for_tenant(user=actor, tenant=_tenant()) not in FINANCE_ROLES:
        raise PermissionDenied("Only a finance approver (a tenant admin) may change the promotion policy.")
    if min_margin_percent is not None and not Decimal(-100) <= min_margin_percent < 100:
        raise ValidationError({"min_margin_percent": "A margin percent below 100."}, code="invalid")
    if any(not 0 < int(percent) < 100 for percent in budget_warn_percents):
        raise ValidationError({"budget_warn_percents": "Warnings are percents between 1 and 99."}, code="invalid")
    if stock_hysteresis < 0:
        raise ValidationError({"stock_hysteresis": "Zero or more units."}, code="invalid")
    if claim_overdue_days is not None and claim_overdue_days < 1:
        raise ValidationError({"claim_overdue_days": "One day or more."}, code="invalid")
    policy = PromotionPolicy.locked()
    before = _snapshot(policy)
    policy.min_margin_percent = min_margin_percent
    policy.budget_warn_percents = sorted({int(percent) for percent in budget_warn_percents})
    policy.stock_hysteresis = stock_hysteresis
    if claim_overdue_days is not None:  # left out: unchanged
        policy.claim_overdue_days = claim_overdue_days
    policy.save()
    audit_record_in_tenant(
        actor=actor,
        action="promotion_policy.update",
        target=policy,
        changes=audit_diff(before, _snapshot(policy)),
    )
    return policy
