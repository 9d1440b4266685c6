"""Promotion lifecycle (issue 8): one service per transition, each checks then executes, audited.

Every transition locks the promotion row first (`select_for_update`), so two people approving or
publishing at once serialise: the second sees the first's result and either returns it unchanged
(idempotent) or is refused. Channel calls happen through `promotions.deployment.channel_adapter`
and only their read-back (`ChannelAck`) is recorded as the channel's state.

Refusals are `ValidationError` (an illegal transition or bad input: 400 in the API) or
`PermissionDenied` (self-approval, a role that may not approve: 403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from connectors.models import Connection
from core.tenancy import tenant_zone
from promotions.channels.base import ChannelAck, ChannelAdapter, ChannelRejected
from promotions.deployment import channel_adapter, connection_adapter, promotion_spec
from promotions.models import (
    SALES_CHANNEL_VENDORS,
    ChannelDeployment,
    Funding,
    Kind,
    Promotion,
    PromotionVersion,
    Stacking,
)
from promotions.selectors import (
    LIVE_STATUSES,
    deployment_previous_acknowledged,
    deployments_current,
    version_review_state,
)
from tenants.api_keys import ACTOR_LABEL_PREFIX, api_key_person
from tenants.audit import audit_record
from tenants.models import Membership, Tenant, User
from tenants.selectors import membership_role_for_tenant
from triage.models import Kind as TriageKind
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

S = Promotion.Status
D = ChannelDeployment.State
APPROVER_ROLES = frozenset(
    {Membership.Role.TENANT_ADMIN, Membership.Role.PARTNER_ADMIN, Membership.Role.PARTNER_OPERATOR}
)
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
)
ELIGIBILITY_LISTS = ("skus", "categories", "collections", "coupon_codes", "locations")
RETRY_ACTION = "promotions.deployment_retry"
CONFLICT_STATUSES = (S.APPROVED, *LIVE_STATUSES)


# ---- helpers ------------------------------------------------------------------------------------


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
    tenant = _tenant()
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action=f"promotion.{action}",
        target=promotion,
        tenant=tenant,
        partner=tenant.partner,
        changes=changes or {},
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


# ---- validate -----------------------------------------------------------------------------------


def known_skus() -> set[str] | None:
    """The tenant's SKU list, when one exists (inventory levels); None when there is none."""
    try:
        model = apps.get_model("commerce", "InventoryLevel")
    except LookupError:
        return None
    skus = set(model.objects.values_list("sku", flat=True).distinct())
    return skus or None


def _overlaps(a: PromotionVersion, b: PromotionVersion) -> bool:
    a_end = a.ends_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    b_end = b.ends_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return a.starts_at < b_end and b.starts_at < a_end


def _stack_allowed(a: PromotionVersion, b: PromotionVersion) -> bool:
    if a.stacking != Stacking.STACKABLE or b.stacking != Stacking.STACKABLE:
        return False
    return b.promotion.key in (a.stackable_with or []) or a.promotion.key in (b.stackable_with or [])


def _plain(number: Decimal | int | str) -> str:
    return f"{Decimal(number).normalize():f}"


def _value_errors(version: PromotionVersion) -> list[str]:
    value, kind = _plain(Decimal(version.value)), version.kind
    amount = Decimal(version.value)
    errors = []
    if kind in (Kind.PERCENT_OFF, Kind.BUY_X_GET_Y) and not (0 < amount <= 100):
        errors.append(f"A {kind.replace('_', ' ')} value is a percentage above 0 and at most 100 (got {value}).")
    if kind in (Kind.AMOUNT_OFF, Kind.FIXED_PRICE, Kind.BUNDLE) and amount <= 0:
        errors.append(f"A {kind.replace('_', ' ')} value is an amount above 0 (got {value}).")
    if kind == Kind.FREE_SHIPPING and amount != 0:
        errors.append("A free shipping promotion has value 0.")
    if kind == Kind.BUY_X_GET_Y and not (version.buy_quantity and version.get_quantity):
        errors.append("Buy X get Y needs a buy quantity and a get quantity of at least 1.")
    if kind == Kind.BUNDLE and len(version.skus) < 2:
        errors.append("A bundle names at least two SKUs.")
    if kind in (Kind.FIXED_PRICE, Kind.BUNDLE, Kind.AMOUNT_OFF) and version.currency != _tenant().base_currency:
        errors.append(f"Amounts must be in the shop currency {_tenant().base_currency}, not {version.currency}.")
    return errors


def _price_after(version: PromotionVersion, price: Decimal) -> Decimal | None:
    if version.kind == Kind.PERCENT_OFF:
        return price * (100 - version.value) / 100
    if version.kind == Kind.AMOUNT_OFF:
        return price - version.value
    if version.kind == Kind.FIXED_PRICE:
        return version.value
    return None


def _floor_findings(version: PromotionVersion) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    if version.kind not in (Kind.PERCENT_OFF, Kind.AMOUNT_OFF, Kind.FIXED_PRICE):
        return errors, warnings
    pricing = version.pricing or {}
    for sku in version.skus:
        entry = pricing.get(sku) or {}
        cost = entry.get("cost")
        price = entry.get("price")
        if cost in (None, ""):
            warnings.append(f"{sku}: no unit cost given, so the cost floor was not checked.")
            continue
        if version.kind != Kind.FIXED_PRICE and price in (None, ""):
            warnings.append(f"{sku}: no list price given, so the price after discount is unknown.")
            continue
        after = _price_after(version, Decimal(price) if price not in (None, "") else Decimal(0))
        if after is not None and after < Decimal(cost):
            errors.append(f"{sku}: the promoted price {after.quantize(Decimal('0.01'))} is below the cost {cost}.")
    return errors, warnings


def validation_run(*, version: PromotionVersion, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every rule check on one version: {"ok", "errors": [{"rule", "message"}], "warnings": [...]}."""
    now = now or timezone.now()
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []

    def error(rule: str, message: str) -> None:
        errors.append({"rule": rule, "message": message})

    def warn(rule: str, message: str) -> None:
        warnings.append({"rule": rule, "message": message})

    if version.ends_at is not None and version.ends_at <= version.starts_at:
        error("window", "The window must end after it starts.")
    if version.ends_at is not None and version.ends_at <= now:
        error("window", "The window has already ended.")
    for message in _value_errors(version):
        error("value", message)
    if version.funding == Funding.VENDOR:
        if not version.funding_vendor_ref:
            error("funding", "A vendor-funded promotion names the vendor (vendor reference).")
        if not (0 < version.funding_share <= 100):
            error(
                "funding",
                f"The vendor's share is above 0 and at most 100 percent (got {_plain(version.funding_share)}).",
            )
    if version.budget is not None and version.budget < 0:
        error("budget", "The budget cannot be negative.")
    eligibility = version.eligibility or {}
    if not any(eligibility.get(key) for key in ("skus", "categories", "collections", "coupon_codes")) and (
        version.kind != Kind.FREE_SHIPPING
    ):
        warn("eligibility", "No SKUs, categories, collections or coupon codes: the promotion applies store-wide.")
    floor_errors, floor_warnings = _floor_findings(version)
    for message in floor_errors:
        error("cost_floor", message)
    for message in floor_warnings:
        warn("cost_floor", message)
    known = known_skus()
    if known is None:
        if version.skus:
            warn("sku", "This tenant has no SKU list (no inventory levels yet), so SKUs were not checked.")
    else:
        unknown = sorted(set(version.skus) - known)
        if unknown:
            error("sku", f"Unknown SKUs: {', '.join(unknown)}.")
    skus = set(version.skus)
    others = Promotion.objects.filter(status__in=CONFLICT_STATUSES).exclude(pk=version.promotion_id)
    for other in others.select_related("current_version", "published_version"):
        theirs = other.published_version if other.status in LIVE_STATUSES else other.current_version
        if theirs is None or not _overlaps(version, theirs):
            continue
        shared = sorted(skus & set(theirs.skus))
        if shared and not _stack_allowed(version, theirs):
            error(
                "overlap",
                f"{other.key} ({other.status}) covers {', '.join(shared)} in an overlapping window and the two do "
                "not stack.",
            )
    channels = list(version.channels.all())
    if not channels:
        error("channels", "Choose at least one sales channel.")
    spec = promotion_spec(version)
    for channel in channels:
        if channel.status != Connection.Status.ACTIVE:
            warn("channels", f"{channel.name} is {channel.status}; publishing to it may fail.")
        try:
            adapter = channel_adapter(channel.vendor)
        except LookupError:
            error("channels", f"{channel.name}: no promotion adapter for {channel.vendor}.")
            continue
        for reason in adapter.unsupported(spec):
            error("channels", f"{channel.name}: {reason}.")
    return {"ok": not errors, "errors": errors, "warnings": warnings, "at": now.isoformat()}


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
    if promotion.status not in LIVE_STATUSES:
        promotion.status = S.VALIDATED if results["ok"] else S.DRAFT
        promotion.save(update_fields=["status", "updated_at"])
    _audit(
        promotion,
        "validate",
        actor=actor,
        actor_label=actor_label,
        changes={"version": version.number, "ok": results["ok"], "errors": len(results["errors"])},
    )
    return results


# ---- review -------------------------------------------------------------------------------------


@transaction.atomic
def promotion_submit(*, promotion: Promotion, actor: User | None = None, actor_label: str | None = None) -> Promotion:
    promotion = _locked(promotion)
    state = version_review_state(promotion=promotion)
    if state == S.SUBMITTED:
        return promotion
    if state != S.VALIDATED:
        raise ValidationError(
            {"status": f"Only a validated version can be submitted; this version is {state}."},
            code="illegal_transition",
        )
    version = promotion.current_version
    version.submitted_at = timezone.now()
    version.save(update_fields=["submitted_at"])
    if promotion.status not in LIVE_STATUSES:
        promotion.status = S.SUBMITTED
        promotion.save(update_fields=["status", "updated_at"])
    _audit(promotion, "submit", actor=actor, actor_label=actor_label, changes={"version": version.number})
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
        raise ValidationError(
            {"status": f"Only a submitted version can be approved; version {version.number} is {state}."},
            code="illegal_transition",
        )
    _check_approver(promotion, actor)
    version.approved_by_id, version.approved_by_email, version.approved_at = actor.pk, actor.email, timezone.now()
    version.save(update_fields=["approved_by_id", "approved_by_email", "approved_at"])
    if promotion.status not in LIVE_STATUSES:
        promotion.status = S.APPROVED
        promotion.save(update_fields=["status", "updated_at"])
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
        raise ValidationError(
            {"status": f"Only a submitted version can be rejected; version {version.number} is {state}."},
            code="illegal_transition",
        )
    _check_approver(promotion, actor)
    version.rejected_reason = reason.strip()
    version.save(update_fields=["rejected_reason"])
    if promotion.status not in LIVE_STATUSES:
        promotion.status = S.REJECTED
        promotion.save(update_fields=["status", "updated_at"])
    _audit(promotion, "reject", actor=actor, actor_label=None, changes={"version": version.number, "reason": reason})
    return promotion


# ---- publish and the channel round trip ---------------------------------------------------------


@transaction.atomic
def promotion_publish(
    *, promotion: Promotion, actor: User | None = None, actor_label: str | None = None, dispatch: bool = True
) -> list[ChannelDeployment]:
    """Publish the approved current version: one deployment per channel in scope, each sent by its
    own task after commit. Publishing the version already published returns its deployments.
    `dispatch=False` leaves them pending for `deployment_record` (a channel's answer given as data)."""
    promotion = _locked(promotion)
    version = promotion.current_version
    if promotion.published_version_id == version.pk:
        return list(ChannelDeployment.objects.filter(version=version).select_related("connection", "version"))
    if version_review_state(promotion=promotion) != S.APPROVED:
        raise ValidationError(
            {
                "status": f"Only an approved version can be published; version {version.number} is "
                f"{version_review_state(promotion=promotion)}."
            },
            code="illegal_transition",
        )
    if promotion.status == S.EXPIRED:
        raise ValidationError({"status": "The promotion has expired."}, code="illegal_transition")
    if version.ends_at is not None and version.ends_at <= timezone.now():
        raise ValidationError({"ends_at": "The window has already ended; edit the dates first."}, code="invalid_window")
    current = {row.connection_id: row for row in deployments_current(promotion=promotion)}
    deployments = []
    for channel in version.channels.all().order_by("pk"):
        before = current.get(channel.pk)
        carried = before is not None and before.state != D.ROLLED_BACK
        deployment, _created = ChannelDeployment.objects.get_or_create(
            version=version,
            connection=channel,
            defaults={
                "promotion": promotion,
                "external_id": before.external_id if before is not None else "",
                "acknowledged_version": before.acknowledged_version if carried else None,
            },
        )
        deployments.append(deployment)
    if not deployments:
        raise ValidationError({"channels": "The version names no channel to publish to."}, code="invalid")
    promotion.published_version = version
    promotion.status = S.PUBLISHED
    promotion.save(update_fields=["published_version", "status", "updated_at"])
    _audit(
        promotion,
        "publish",
        actor=actor,
        actor_label=actor_label,
        changes={"version": version.number, "channels": [d.connection_id for d in deployments]},
    )
    if not dispatch:
        return deployments
    from promotions.tasks import deployment_send_task

    for deployment in deployments:
        deployment_id = deployment.pk
        transaction.on_commit(lambda deployment_id=deployment_id: deployment_send_task.delay(deployment_id))
    return deployments


def deployment_acknowledge(
    *, deployment: ChannelDeployment, ack: ChannelAck, at: dt.datetime | None = None
) -> ChannelDeployment:
    """Record what the channel reports holding. Acknowledged only when the channel's own read-back
    shows this deployment's version active; anything else is a failure that says what it shows."""
    now = at or timezone.now()
    deployment.external_id = ack.external_id or deployment.external_id
    deployment.acknowledged_version = ack.version
    expected = deployment.version.number
    if ack.version == expected and ack.state == "active":
        deployment.state = D.ACKNOWLEDGED
        deployment.acknowledged_at = deployment.acknowledged_at or now
        deployment.last_error = ""
    elif ack.version == expected and ack.state == "paused":
        deployment.state = D.PAUSED
        deployment.paused_at = deployment.paused_at or now
        deployment.last_error = ""
    else:
        deployment.state = D.FAILED
        deployment.last_error = (
            f"The channel reports version {ack.version if ack.version is not None else 'none'} "
            f"({ack.state}) after publishing version {expected}."
        )
    deployment.save()
    return deployment


def _fail(deployment: ChannelDeployment, error: BaseException) -> None:
    deployment.state = D.FAILED
    message = error.message if isinstance(error, ChannelRejected) else f"{type(error).__name__}: {error}"
    deployment.last_error = message[:2000]
    deployment.save(update_fields=["state", "last_error", "updated_at"])


def _adapter(deployment: ChannelDeployment) -> ChannelAdapter:
    return connection_adapter(deployment.connection)


@transaction.atomic
def deployment_send(*, deployment_id: int) -> ChannelDeployment | None:
    """The task body: publish one version to one channel and record the channel's read-back.
    Holds the promotion's lock for the round trip, so a pause or rollback never crosses a send."""
    row = ChannelDeployment.objects.filter(pk=deployment_id).only("promotion_id").first()
    if row is None:
        return None
    promotion = Promotion.objects.select_for_update().get(pk=row.promotion_id)
    deployment = (
        ChannelDeployment.objects.select_for_update(of=("self",))
        .select_related("version", "connection")
        .get(pk=deployment_id)
    )
    if deployment.state in (D.PAUSED, D.ROLLED_BACK) or promotion.status == S.EXPIRED:
        return deployment
    if deployment.state == D.ACKNOWLEDGED and deployment.acknowledged_version == deployment.version.number:
        return deployment
    if promotion.published_version_id != deployment.version_id:
        deployment.last_error = "Superseded: a newer version was published before this one was sent."
        deployment.save(update_fields=["last_error", "updated_at"])
        return deployment
    deployment.state, deployment.sent_at = D.SENT, timezone.now()
    deployment.attempts += 1
    deployment.save(update_fields=["state", "sent_at", "attempts", "updated_at"])
    try:
        adapter = _adapter(deployment)
        ack = adapter.publish(
            deployment.connection, promotion_spec(deployment.version), external_id=deployment.external_id or None
        )
    except LookupError as error:
        _fail(deployment, ChannelRejected(f"No promotion adapter for {deployment.connection.vendor}: {error}"))
    except Exception as error:  # any channel failure is recorded on the deployment and triaged
        log.warning("promotions.send_failed", deployment=deployment.pk, error=str(error))
        _fail(deployment, error)
    else:
        deployment_acknowledge(deployment=deployment, ack=ack)
    promotion_settle(promotion=promotion, changed=True)
    return deployment


@transaction.atomic
def deployment_record(
    *, deployment_id: int, ack: ChannelAck | None, error: str = "", at: dt.datetime | None = None
) -> ChannelDeployment:
    """Record a channel's answer that arrived as data rather than through an adapter call (the
    demo, or an operator confirming by hand): its read-back, or the error it gave."""
    row = ChannelDeployment.objects.only("promotion_id").get(pk=deployment_id)
    promotion = Promotion.objects.select_for_update().get(pk=row.promotion_id)
    deployment = (
        ChannelDeployment.objects.select_for_update(of=("self",))
        .select_related("version", "connection")
        .get(pk=deployment_id)
    )
    if deployment.state not in (D.PENDING, D.SENT, D.FAILED):
        raise ValidationError({"state": f"The deployment is {deployment.state}; nothing is awaited from the channel."})
    deployment.attempts += 1
    deployment.sent_at = at or timezone.now()
    if ack is not None:
        deployment_acknowledge(deployment=deployment, ack=ack, at=at)
    else:
        _fail(deployment, ChannelRejected(error or "The channel gave no answer."))
    promotion_settle(promotion=promotion, changed=True)
    return deployment


def _channel_summary(rows: list[ChannelDeployment]) -> list[dict[str, Any]]:
    return [
        {
            "connection_id": row.connection_id,
            "channel": row.connection.name,
            "vendor": row.connection.vendor,
            "state": row.state,
            "version": row.version.number,
            "acknowledged_version": row.acknowledged_version,
            "error": row.last_error,
        }
        for row in rows
    ]


def promotion_settle(*, promotion: Promotion, changed: bool = False) -> str:
    """Derive the promotion's status from its channels' current deployments, raise the partial
    deployment exception when channels disagree and nothing is in flight, resolve it once every
    channel is consistent. Call with the promotion row locked."""
    rows = deployments_current(promotion=promotion)
    states = [row.state for row in rows]
    if promotion.status == S.EXPIRED or not rows:
        return promotion.status
    live = sum(state == D.ACKNOWLEDGED for state in states)
    failed = sum(state == D.FAILED for state in states)
    paused = sum(state == D.PAUSED for state in states)
    in_flight = sum(state in (D.PENDING, D.SENT) for state in states)
    if all(state == D.ROLLED_BACK for state in states):
        status = S.ROLLED_BACK
    elif in_flight:
        status = S.PUBLISHED
    elif live and live + states.count(D.ROLLED_BACK) == len(states):
        status = S.LIVE
    elif live:
        status = S.PARTIALLY_LIVE
    elif paused:
        status = S.PAUSED
    else:
        status = S.PUBLISHED
    if promotion.status != status:
        promotion.status = status
        promotion.save(update_fields=["status", "updated_at"])
    if in_flight:
        return status
    if failed and changed:
        cause = "partial_deployment" if live or paused else "deployment_failed"
        summary = _channel_summary(rows)
        failing = ", ".join(row["channel"] for row in summary if row["state"] == D.FAILED)
        exception_raise(
            kind=TriageKind.PROMOTION_DEPLOYMENT,
            cause=cause,
            obj=promotion,
            title=f"{promotion.key}: not live on {failing}" + (f", live on {live} other channel(s)" if live else ""),
            detail="; ".join(f"{row['channel']}: {row['error']}" for row in summary if row["state"] == D.FAILED),
            context={
                "channels": summary,
                "actions": {
                    "retry": "Re-send the version to the failed channels.",
                    "rollback": f"/promotions/{promotion.pk}/ → Roll back: every channel to its previous version.",
                },
            },
            retry=RetryAction(RETRY_ACTION, {"promotion_id": promotion.pk}),
        )
    elif not failed:
        exception_resolve_for_object(
            obj=promotion, reason=f"Every channel is consistent ({', '.join(sorted(set(states)))})."
        )
    return status


def deployments_retry_failed(*, promotion_id: int) -> list[ChannelDeployment]:
    """The retry action: re-send the current version to every channel where it failed. Raises when
    a channel still fails, so the triage occurrence stays open with the reason."""
    promotion = Promotion.objects.get(pk=promotion_id)
    failed = [row for row in deployments_current(promotion=promotion) if row.state == D.FAILED]
    results = [deployment_send(deployment_id=row.pk) for row in failed]
    still = [row for row in results if row is not None and row.state == D.FAILED]
    if still:
        raise RuntimeError("; ".join(f"{row.connection.name}: {row.last_error}" for row in still))
    return results


# ---- pause, resume, rollback, expire ------------------------------------------------------------


def _in_scope(rows: list[ChannelDeployment], connection_ids: Iterable[int] | None) -> list[ChannelDeployment]:
    if connection_ids is None:
        return rows
    wanted = {int(pk) for pk in connection_ids}
    known = {row.connection_id for row in rows}
    missing = wanted - known
    if missing:
        raise ValidationError(
            {"channels": f"The promotion is not deployed to channel(s) {', '.join(map(str, sorted(missing)))}."},
            code="invalid",
        )
    return [row for row in rows if row.connection_id in wanted]


def _raise_channel_failures(promotion: Promotion, cause: str, verb: str, failures: list[ChannelDeployment]) -> None:
    if not failures:
        return
    exception_raise(
        kind=TriageKind.PROMOTION_DEPLOYMENT,
        cause=cause,
        obj=promotion,
        title=f"{promotion.key}: could not {verb} on {', '.join(row.connection.name for row in failures)}",
        detail="; ".join(f"{row.connection.name}: {row.last_error}" for row in failures),
        context={"channels": _channel_summary(deployments_current(promotion=promotion))},
    )


def _channel_call(row: ChannelDeployment, call) -> ChannelAck | None:
    try:
        return call(_adapter(row))
    except Exception as error:  # recorded on the row and raised into triage by the caller
        row.last_error = (error.message if isinstance(error, ChannelRejected) else f"{type(error).__name__}: {error}")[
            :2000
        ]
        row.save(update_fields=["last_error", "updated_at"])
        return None


def _channels_switch(
    *,
    promotion: Promotion,
    connection_ids: Iterable[int] | None,
    from_state: str,
    expect: str,
    doing: str,
    call: Callable[[ChannelAdapter, ChannelDeployment], ChannelAck],
    apply: Callable[[ChannelDeployment, ChannelAck], None],
) -> tuple[list[ChannelDeployment], list[ChannelDeployment]]:
    """Call each in-scope channel in `from_state`; a channel whose read-back is not `expect` is a
    failure (its error kept on the row), the others are updated by `apply`. (done, failures)."""
    done, failures = [], []
    for row in _in_scope(deployments_current(promotion=promotion), connection_ids):
        if row.state != from_state:
            continue
        ack = _channel_call(row, lambda adapter, row=row: call(adapter, row))
        if ack is None or ack.state != expect:
            if ack is not None:
                row.last_error = f"The channel still reports the promotion {ack.state} after {doing}."
                row.save(update_fields=["last_error", "updated_at"])
            failures.append(row)
            continue
        apply(row, ack)
        done.append(row)
    return done, failures


@transaction.atomic
def promotion_pause(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
    reason: str = ChannelDeployment.PauseReason.MANUAL,
) -> list[ChannelDeployment]:
    """Pause on the given channels (all when None). Channels already paused are left as they are."""
    promotion = _locked(promotion)
    _refuse(promotion, "pause", LIVE_STATUSES)

    def paused_now(row: ChannelDeployment, ack: ChannelAck) -> None:
        row.state, row.pause_reason, row.paused_at, row.last_error = D.PAUSED, reason, timezone.now(), ""
        row.save(update_fields=["state", "pause_reason", "paused_at", "last_error", "updated_at"])

    paused, failures = _channels_switch(
        promotion=promotion,
        connection_ids=connection_ids,
        from_state=D.ACKNOWLEDGED,
        expect="paused",
        doing="pausing",
        call=lambda adapter, row: adapter.pause(row.connection, row.external_id),
        apply=paused_now,
    )
    promotion_settle(promotion=promotion)
    _raise_channel_failures(promotion, "pause_failed", "pause", failures)
    _audit(
        promotion,
        "pause",
        actor=actor,
        actor_label=actor_label,
        changes={"channels": [row.connection_id for row in paused], "reason": reason, "failed": len(failures)},
    )
    return paused


@transaction.atomic
def promotion_resume(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
) -> list[ChannelDeployment]:
    promotion = _locked(promotion)
    _refuse(promotion, "resume", LIVE_STATUSES)

    def resumed_now(row: ChannelDeployment, ack: ChannelAck) -> None:
        row.state, row.pause_reason, row.last_error = D.ACKNOWLEDGED, "", ""
        row.acknowledged_version = ack.version if ack.version is not None else row.acknowledged_version
        row.save(update_fields=["state", "pause_reason", "last_error", "acknowledged_version", "updated_at"])

    resumed, failures = _channels_switch(
        promotion=promotion,
        connection_ids=connection_ids,
        from_state=D.PAUSED,
        expect="active",
        doing="resuming",
        call=lambda adapter, row: adapter.resume(row.connection, row.external_id),
        apply=resumed_now,
    )
    promotion_settle(promotion=promotion)
    _raise_channel_failures(promotion, "resume_failed", "resume", failures)
    _audit(
        promotion,
        "resume",
        actor=actor,
        actor_label=actor_label,
        changes={"channels": [row.connection_id for row in resumed], "failed": len(failures)},
    )
    return resumed


def _rollback_one(row: ChannelDeployment) -> bool:
    """Take one channel back: remove a first deployment, re-publish the previous acknowledged
    version of a later one. True when the channel's read-back confirms it."""
    now = timezone.now()
    previous = deployment_previous_acknowledged(deployment=row)
    if previous is None:
        if row.external_id:
            ack = _channel_call(row, lambda adapter: adapter.remove(row.connection, row.external_id))
            if ack is None:
                return False
            if ack.state != "absent":
                row.last_error = f"The channel still reports the promotion {ack.state} after removing it."
                row.save(update_fields=["last_error", "updated_at"])
                return False
        row.state, row.rolled_back_at, row.acknowledged_version, row.last_error = D.ROLLED_BACK, now, None, ""
        row.save(update_fields=["state", "rolled_back_at", "acknowledged_version", "last_error", "updated_at"])
        return True
    spec = promotion_spec(previous.version)
    external_id = row.external_id or previous.external_id or None
    ack = None
    if row.state == D.FAILED and row.acknowledged_version == previous.version.number and external_id:
        # The channel never took the newer version: confirm it still holds the previous one.
        ack = _channel_call(row, lambda adapter: adapter.read_back(row.connection, external_id))
        if ack is not None and (ack.version != previous.version.number or ack.state != "active"):
            ack = None
    if ack is None:
        ack = _channel_call(row, lambda adapter: adapter.publish(row.connection, spec, external_id=external_id))
    if ack is None:
        return False
    if ack.version != previous.version.number or ack.state != "active":
        row.last_error = f"After rolling back the channel reports version {ack.version} ({ack.state})."
        row.save(update_fields=["last_error", "updated_at"])
        return False
    row.state, row.rolled_back_at, row.last_error = D.ROLLED_BACK, now, ""
    row.save(update_fields=["state", "rolled_back_at", "last_error", "updated_at"])
    previous.state, previous.external_id, previous.acknowledged_version = D.ACKNOWLEDGED, ack.external_id, ack.version
    previous.pause_reason = ""
    previous.save(update_fields=["state", "external_id", "acknowledged_version", "pause_reason", "updated_at"])
    return True


@transaction.atomic
def promotion_rollback(
    *,
    promotion: Promotion,
    actor: User | None = None,
    actor_label: str | None = None,
    connection_ids: Iterable[int] | None = None,
) -> list[ChannelDeployment]:
    """Roll back on the given channels (all when None)."""
    promotion = _locked(promotion)
    _refuse(promotion, "roll back", LIVE_STATUSES)
    rows = _in_scope(deployments_current(promotion=promotion), connection_ids)
    older = [row for row in rows if row.version_id != promotion.published_version_id and row.state != D.ROLLED_BACK]
    if connection_ids is not None and older:
        names = ", ".join(f"{row.connection.name} (version {row.version.number})" for row in older)
        raise ValidationError(
            {"channels": f"Already on an older version than the published one: {names}."}, code="invalid"
        )
    rolled, failures = [], []
    for row in rows:
        # Only channels on the published version go back; one already on an older version stays.
        if row.state == D.ROLLED_BACK or row.version_id != promotion.published_version_id:
            continue
        (rolled if _rollback_one(row) else failures).append(row)
    current = deployments_current(promotion=promotion)
    if promotion.published_version_id and not any(row.version_id == promotion.published_version_id for row in current):
        # Every channel left the published version: the newest version still on a channel (if any)
        # is what is published now.
        standing = [row for row in current if row.state != D.ROLLED_BACK]
        promotion.published_version = max((row.version for row in standing), key=lambda v: v.number, default=None)
        promotion.save(update_fields=["published_version", "updated_at"])
    promotion_settle(promotion=promotion)
    _raise_channel_failures(promotion, "rollback_failed", "roll back", failures)
    _audit(
        promotion,
        "rollback",
        actor=actor,
        actor_label=actor_label,
        changes={"channels": [row.connection_id for row in rolled], "failed": len(failures)},
    )
    return rolled


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


def promotions_expire_due(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    due = Promotion.objects.filter(status__in=LIVE_STATUSES, published_version__ends_at__lte=now)
    return sum(promotion_expire(promotion=promotion, now=now) for promotion in due)


# ---- stock guard --------------------------------------------------------------------------------


def promotions_stock_guard() -> dict[str, list]:
    """Pause each live promotion on exactly the channels where a promoted SKU's available-to-sell
    fell below the version's stock threshold, and raise an inventory exception saying why.
    Channels that sell a SKU from no mapped location have no ATS to judge: they are reported in
    `unjudged`, never paused on a guess."""
    from commerce.selectors import available_to_sell

    paused: list[ChannelDeployment] = []
    unjudged: list[tuple[str, str, str]] = []
    candidates = Promotion.objects.filter(
        status__in=(S.LIVE, S.PARTIALLY_LIVE), published_version__stock_threshold__isnull=False
    ).select_related("published_version")
    for promotion in candidates:
        version = promotion.published_version
        if not version.skus:
            continue
        ats = available_to_sell(skus=version.skus)
        judged = {(row.channel_connection_id, row.sku) for row in ats.channels}
        threshold = Decimal(version.stock_threshold)
        short: dict[int, list[str]] = {}
        for row in deployments_current(promotion=promotion):
            if row.state != D.ACKNOWLEDGED or row.version_id != version.pk:
                continue
            for sku in version.skus:
                if (row.connection_id, sku) not in judged:
                    unjudged.append((promotion.key, row.connection.name, sku))
                    continue
                available = ats.channel_ats(channel_connection_id=row.connection_id, sku=sku)
                if available < threshold:
                    short.setdefault(row.connection_id, []).append(f"{sku} {_plain(available)} < {_plain(threshold)}")
        if not short:
            continue
        done = promotion_pause(
            promotion=promotion,
            actor=None,
            actor_label="stock-guard",
            connection_ids=list(short),
            reason=ChannelDeployment.PauseReason.STOCK_GUARD,
        )
        paused.extend(done)
        names = {row.connection_id: row.connection.name for row in done}
        if done:
            exception_raise(
                kind=TriageKind.INVENTORY,
                cause="stock_guard_paused",
                obj=promotion,
                title=f"{promotion.key} paused on {', '.join(names.values())}: stock below {version.stock_threshold}",
                detail="; ".join(f"{names[pk]}: {', '.join(short[pk])}" for pk in names),
                context={"threshold": version.stock_threshold, "channels": {names[pk]: short[pk] for pk in names}},
            )
    return {"paused": paused, "unjudged": unjudged}
