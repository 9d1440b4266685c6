"""Promotion lifecycle (issue 8): draft, versions, validate, submit, approve or reject, expire. One
service per transition, each checks then executes, audited (see `promotions.transitions`).
Publishing and the channels' round trip are in `promotions.deployment`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from connectors.models import Connection
from promotions.margin import margin_check, margin_refusal
from promotions.models import SALES_CHANNEL_VENDORS, Fallback, Funding, Kind, Promotion, PromotionVersion, Stacking
from promotions.selectors import LIVE_STATUSES, version_review_state
from promotions.transitions import (
    APPROVER_ROLES,
    FINANCE_ROLES,
    _audit,
    _aware,
    _locked,
    _refuse,
    _tenant,
    _who,
    four_eyes_check,
)
from promotions.validation import validation_run
from tenants.models import User
from tenants.selectors import membership_role_for_tenant

S = Promotion.Status
VERSION_FIELDS = (
    "kind",
    "value",
    "currency",
    "buy_quantity",
    "get_quantity",
    "eligibility",
    "exclusions",
    "stacking",
    "stackable_with",
    "priority",
    "starts_at",
    "ends_at",
    "funding",
    "funding_vendor_ref",
    "funding_share",
    "budget",
    "usage_limit",
    "stock_threshold",
    "pricing",
    "fallback",
    "waves",
    "wave_hold_minutes",
)
ELIGIBILITY_LISTS = ("skus", "categories", "collections", "coupon_codes", "locations")


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"{value!r} is not a number."}, code="invalid") from None
    if not number.is_finite():
        raise ValidationError({field: f"{value!r} is not a finite number."}, code="invalid")
    return number


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Shape checks every version must pass before it is stored (business rules wait for validate)."""
    unknown = set(fields) - set(VERSION_FIELDS)
    if unknown:
        raise ValidationError({"fields": f"Unknown fields: {', '.join(sorted(unknown))}."}, code="invalid")
    clean = dict(fields)
    if "kind" in clean and clean["kind"] not in Kind.values:
        raise ValidationError({"kind": f"Unknown promotion type {clean['kind']!r}."}, code="invalid")
    if "stacking" in clean and clean["stacking"] not in Stacking.values:
        raise ValidationError({"stacking": f"Unknown stacking rule {clean['stacking']!r}."}, code="invalid")
    if "funding" in clean and clean["funding"] not in Funding.values:
        raise ValidationError({"funding": f"Unknown funding {clean['funding']!r}."}, code="invalid")
    if "fallback" in clean and clean["fallback"] not in Fallback.values:
        raise ValidationError({"fallback": f"Unknown fallback policy {clean['fallback']!r}."}, code="invalid")
    _clean_waves(clean)
    for field in ("value", "funding_share", "budget"):
        if clean.get(field) is not None:
            clean[field] = _decimal(clean[field], field)
    for field in ("starts_at", "ends_at"):
        if field in clean:
            clean[field] = _aware(clean[field])
    if "currency" in clean:
        clean["currency"] = str(clean["currency"]).upper()
        if len(clean["currency"]) != 3 or not clean["currency"].isalpha():
            raise ValidationError({"currency": "A currency is a three-letter ISO 4217 code."}, code="invalid")
    eligibility = clean.get("eligibility")
    if eligibility is not None:
        if not isinstance(eligibility, dict):
            raise ValidationError({"eligibility": "Eligibility is an object."}, code="invalid")
        for key in ELIGIBILITY_LISTS:
            value = eligibility.get(key, [])
            if not isinstance(value, list) or not all(isinstance(item, str | int) for item in value):
                raise ValidationError({"eligibility": f"{key} is a list of strings."}, code="invalid")
            eligibility[key] = [str(item).strip() for item in value if str(item).strip()]
        if eligibility.get("min_spend") not in (None, ""):
            eligibility["min_spend"] = str(_decimal(eligibility["min_spend"], "eligibility"))
    if clean.get("stackable_with") is not None and not isinstance(clean["stackable_with"], list):
        raise ValidationError({"stackable_with": "A list of promotion keys."}, code="invalid")
    if clean.get("pricing") is not None:
        if not isinstance(clean["pricing"], dict):
            raise ValidationError({"pricing": "An object of SKU → {price, cost}."}, code="invalid")
        for sku, entry in clean["pricing"].items():
            if not isinstance(entry, dict):
                raise ValidationError({"pricing": f"{sku}: an object with price and/or cost."}, code="invalid")
            for part in ("price", "cost"):
                if entry.get(part) not in (None, ""):
                    entry[part] = str(_decimal(entry[part], "pricing"))
    starts_at, ends_at = clean.get("starts_at"), clean.get("ends_at")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValidationError({"ends_at": "The window must end after it starts."}, code="invalid_window")
    return clean


def _clean_waves(clean: dict[str, Any]) -> None:
    if clean.get("waves") is not None:
        waves = clean["waves"]
        if not isinstance(waves, list) or not all(isinstance(wave, list) for wave in waves):
            raise ValidationError({"waves": "Waves are a list of lists of channel ids."}, code="invalid")
        try:
            clean["waves"] = [[int(pk) for pk in wave] for wave in waves]
        except (TypeError, ValueError):
            raise ValidationError({"waves": "Waves are a list of lists of channel ids."}, code="invalid") from None
    hold = clean.get("wave_hold_minutes")
    if hold is not None and (not isinstance(hold, int) or not 0 <= hold <= 60 * 24 * 30):
        raise ValidationError({"wave_hold_minutes": "Minutes between 0 and 43200 (30 days)."}, code="invalid")


def _channels(channels: Iterable[Connection]) -> list[Connection]:
    channels = list(channels)
    for channel in channels:
        if channel.vendor not in SALES_CHANNEL_VENDORS or channel.direction != Connection.Direction.SOURCE:
            raise ValidationError(
                {"channels": f"{channel.name} ({channel.vendor}) is not a sales channel a promotion can run on."},
                code="invalid",
            )
    return channels


# ---- create and edit ----------------------------------------------------------------------------


@transaction.atomic
def promotion_create(
    *,
    key: str,
    name: str,
    channels: Iterable[Connection],
    actor: User | None = None,
    actor_label: str | None = None,
    **fields: Any,
) -> Promotion:
    """A draft promotion with its first version."""
    if Promotion.objects.filter(key=key).exists():
        raise ValidationError({"key": f"A promotion with key {key!r} already exists."}, code="duplicate")
    fields.setdefault("currency", _tenant().base_currency)
    for required in ("kind", "value", "starts_at"):
        if fields.get(required) is None:
            raise ValidationError({required: "This field is required."}, code="required")
    clean = _clean_fields(fields)
    channels = _channels(channels)
    author = _who(actor, actor_label)
    promotion = Promotion.objects.create(key=key, name=name, author_id=author.id, author_email=author.email)
    version = PromotionVersion.objects.create(promotion=promotion, number=1, **author.fields, **clean)
    version.channels.set(channels)
    promotion.current_version = version
    promotion.save(update_fields=["current_version", "updated_at"])
    _audit(promotion, "create", actor=actor, actor_label=actor_label, changes={"version": 1, "name": name})
    return promotion


@transaction.atomic
def promotion_edit(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    name: str | None = None,
    channels: Iterable[Connection] | None = None,
    **changes: Any,
) -> PromotionVersion:
    """Every edit is a new version (the submitted ones never change); the promotion goes back to
    draft. What channels carry now is untouched until the new version is approved and published."""
    promotion = _locked(promotion)
    _refuse(promotion, "edit", [status for status in S.values if status != S.EXPIRED])
    clean = _clean_fields(changes)
    previous = promotion.current_version
    values = {field: getattr(previous, field) for field in VERSION_FIELDS}
    values.update(clean)
    if values["ends_at"] is not None and values["ends_at"] <= values["starts_at"]:
        raise ValidationError({"ends_at": "The window must end after it starts."}, code="invalid_window")
    new_channels = _channels(channels) if channels is not None else list(previous.channels.all())
    author = _who(actor, actor_label)
    version = PromotionVersion.objects.create(
        promotion=promotion, number=previous.number + 1, **author.fields, **values
    )
    version.channels.set(new_channels)
    promotion.current_version = version
    if name:
        promotion.name = name
    if promotion.status not in LIVE_STATUSES:
        promotion.status = S.DRAFT
    promotion.save()
    changed = sorted(field for field in clean if clean[field] != getattr(previous, field))
    changes_logged = {"version": version.number, "fields": changed}
    _audit(promotion, "edit", actor=actor, actor_label=actor_label, changes=changes_logged)
    return version


@transaction.atomic
def promotion_validate(*, promotion: Promotion, actor: User | None = None, actor_label: str | None = None) -> dict:
    """Run the rule checks on the current version: validated when none fails, draft otherwise."""
    promotion = _locked(promotion)
    _refuse(promotion, "validate", (S.DRAFT, S.VALIDATED, *LIVE_STATUSES))
    version = promotion.current_version
    if version.submitted_at is not None:
        raise ValidationError({"status": "This version was already submitted; edit to make a new one."})
    results = validation_run(version=version)
    version.validation = results
    version.save(update_fields=["validation"])
    _review_status(promotion, S.VALIDATED if results["ok"] else S.DRAFT)
    _audit(
        promotion,
        "validate",
        actor=actor,
        actor_label=actor_label,
        changes={"version": version.number, "ok": results["ok"], "errors": len(results["errors"])},
    )
    return results


def _review_status(promotion: Promotion, status: str) -> None:
    """A live promotion keeps its status while a newer version is reviewed; any other takes the review's."""
    if promotion.status not in LIVE_STATUSES:
        promotion.status = status
        promotion.save(update_fields=["status", "updated_at"])


def _illegal(message: str) -> ValidationError:
    return ValidationError({"status": message}, code="illegal_transition")


# ---- review -------------------------------------------------------------------------------------


@transaction.atomic
def promotion_submit(*, promotion: Promotion, actor: User | None = None, actor_label: str | None = None) -> Promotion:
    promotion = _locked(promotion)
    state = version_review_state(promotion=promotion)
    if state == S.SUBMITTED:
        return promotion
    if state != S.VALIDATED:
        raise _illegal(f"Only a validated version can be submitted; this version is {state}.")
    version = promotion.current_version
    version.submitted_at = timezone.now()
    version.margin = margin_check(version=version)
    version.save(update_fields=["submitted_at", "margin"])
    _review_status(promotion, S.SUBMITTED)
    changes = {"version": version.number, "needs_finance": version.margin["needs_finance"]}
    _audit(promotion, "submit", actor=actor, actor_label=actor_label, changes=changes)
    return promotion


def _check_approver(promotion: Promotion, actor: User | None) -> None:
    version = promotion.current_version
    four_eyes_check(
        author_id=version.author_id, author_email=version.author_email, author_key=version.author_key, actor=actor
    )
    role = membership_role_for_tenant(user=actor, tenant=_tenant())
    if role not in APPROVER_ROLES:
        raise PermissionDenied("Approving takes a tenant admin or a partner role.")


@transaction.atomic
def promotion_approve(*, promotion: Promotion, actor: User | None) -> Promotion:
    promotion = _locked(promotion)
    version = promotion.current_version
    state = version_review_state(promotion=promotion)
    if state == S.APPROVED and actor is not None and version.approved_by_id == actor.pk:
        return promotion
    if state != S.SUBMITTED:
        raise _illegal(f"Only a submitted version can be approved; version {version.number} is {state}.")
    _check_approver(promotion, actor)
    finance = membership_role_for_tenant(user=actor, tenant=_tenant()) in FINANCE_ROLES
    if (version.margin or {}).get("needs_finance") and not finance:
        raise PermissionDenied(margin_refusal(version))
    version.approved_by_id, version.approved_by_email, version.approved_at = actor.pk, actor.email, timezone.now()
    version.save(update_fields=["approved_by_id", "approved_by_email", "approved_at"])
    _review_status(promotion, S.APPROVED)
    _audit(promotion, "approve", actor=actor, actor_label=None, changes={"version": version.number})
    return promotion


@transaction.atomic
def promotion_reject(*, promotion: Promotion, actor: User | None, reason: str) -> Promotion:
    promotion = _locked(promotion)
    version = promotion.current_version
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the promotion is rejected."}, code="required")
    state = version_review_state(promotion=promotion)
    if state == S.REJECTED:
        return promotion
    if state != S.SUBMITTED:
        raise _illegal(f"Only a submitted version can be rejected; version {version.number} is {state}.")
    _check_approver(promotion, actor)
    version.rejected_reason = reason.strip()
    version.save(update_fields=["rejected_reason"])
    _review_status(promotion, S.REJECTED)
    _audit(promotion, "reject", actor=actor, actor_label=None, changes={"version": version.number, "reason": reason})
    return promotion


@transaction.atomic
def promotion_expire(*, promotion: Promotion, now: dt.datetime | None = None) -> bool:
    """Mark a published promotion whose window has ended as expired. The channels carry the end
    date themselves (it is in the spec), so nothing is sent."""
    now = now or timezone.now()
    promotion = _locked(promotion)
    version = promotion.published_version
    if promotion.status not in LIVE_STATUSES or version is None or version.ends_at is None or version.ends_at > now:
        return False
    promotion.status = S.EXPIRED
    promotion.save(update_fields=["status", "updated_at"])
    _audit(promotion, "expire", actor=None, actor_label="system", changes={"version": version.number})
    return True


def promotions_next_end() -> dt.datetime | None:
    """When the first promotion that `promotions_expire_due` would expire ends (None: none will)."""
    return Promotion.objects.filter(status__in=LIVE_STATUSES).aggregate(at=Min("published_version__ends_at"))["at"]


def promotions_expire_due(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    due = Promotion.objects.filter(status__in=LIVE_STATUSES, published_version__ends_at__lte=now)
    return sum(promotion_expire(promotion=promotion, now=now) for promotion in due)
