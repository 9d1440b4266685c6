"""Price lists (issue 8 §5): versions of SKU prices from the price master, validated, approved by a
second person when a price moves by more than the list's threshold, published per channel through
`adapter.publish_prices`, and every price a channel shows afterwards kept as a `ChannelPrice` row.

Same habits as the promotion lifecycle: each transition locks the list row, checks, executes, audits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from connectors.models import Connection
from connectors.vendors.base import PriceSpec
from core.money import quantize
from core.tasks import task_named
from promotions.deployment import channel_adapter, connection_adapter
from promotions.lifecycle import _channels
from promotions.models import ChannelPrice, PriceList, PriceListDeployment, PriceListVersion
from promotions.transitions import APPROVER_ROLES, _aware, _tenant, _who, four_eyes_check
from tenants.audit import audit_record_in_tenant
from tenants.models import User
from tenants.selectors import membership_role_for_tenant
from triage.models import Kind as TriageKind
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

S = PriceList.Status
P = PriceListDeployment.State
PRICE_RETRY_ACTION = "promotions.price_list_send"


def _audit(price_list: PriceList, action: str, *, actor: User | None, actor_label: str | None, changes: dict) -> None:
    _tenant()  # price lists are audited in their tenant's schema only
    audit_record_in_tenant(
        actor=actor, actor_label=actor_label, action=f"price_list.{action}", target=price_list, changes=changes
    )


def _locked(price_list: PriceList) -> PriceList:
    return PriceList.objects.select_for_update().get(pk=price_list.pk)


def _sku_amounts(values: Mapping[str, Any], *, field: str, noun: str) -> Iterator[tuple[str, Decimal]]:
    """Each SKU (stripped) with its value read as a number; one that is not a number is an error on `field`."""
    for sku, value in values.items():
        sku = str(sku).strip()
        try:
            amount = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ValidationError({field: f"{sku}: {value!r} is not a {noun}."}, code="invalid") from None
        yield sku, amount


def _clean_prices(prices: Mapping[str, Any], currency: str) -> dict[str, str]:
    if not isinstance(prices, Mapping) or not prices:
        raise ValidationError({"prices": "Give at least one SKU and its price."}, code="invalid")
    clean = {}
    for sku, amount in _sku_amounts(prices, field="prices", noun="price"):
        if not sku or not amount.is_finite() or amount <= 0:
            raise ValidationError({"prices": f"{sku or '(blank SKU)'}: a price is above 0."}, code="invalid")
        clean[sku] = str(quantize(amount, currency))
    return clean


def _clean_costs(costs: Mapping[str, Any] | None, prices: Mapping[str, str], currency: str) -> dict[str, str]:
    """Unit costs per SKU (for the margin check): each a number of 0 or more, for a SKU of the list."""
    if not costs:
        return {}
    if not isinstance(costs, Mapping):
        raise ValidationError({"costs": "Give each SKU's unit cost."}, code="invalid")
    clean = {}
    for sku, amount in _sku_amounts(costs, field="costs", noun="cost"):
        if not amount.is_finite() or amount < 0:
            raise ValidationError({"costs": f"{sku}: a cost is 0 or more."}, code="invalid")
        if sku not in prices:
            raise ValidationError({"costs": f"{sku or '(blank SKU)'}: not a SKU of the price list."}, code="invalid")
        clean[sku] = str(quantize(amount, currency))
    return clean


@transaction.atomic
def price_list_create(
    *,
    key: str,
    name: str,
    prices: Mapping[str, Any],
    starts_at: dt.datetime,
    channels: Iterable[Connection],
    currency: str | None = None,
    approval_threshold_percent: Decimal = Decimal(10),
    costs: Mapping[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> PriceList:
    if PriceList.objects.filter(key=key).exists():
        raise ValidationError({"key": f"A price list with key {key!r} already exists."}, code="duplicate")
    currency = (currency or _tenant().base_currency).upper()
    author = _who(actor, actor_label)
    price_list = PriceList.objects.create(
        key=key,
        name=name,
        currency=currency,
        approval_threshold_percent=approval_threshold_percent,
        author_id=author.id,
        author_email=author.email,
    )
    clean = _clean_prices(prices, currency)
    version = PriceListVersion.objects.create(
        price_list=price_list,
        number=1,
        starts_at=_aware(starts_at),
        prices=clean,
        costs=_clean_costs(costs, clean, currency),
        **author.fields,
    )
    version.channels.set(_channels(channels))
    price_list.current_version = version
    price_list.save(update_fields=["current_version", "updated_at"])
    _audit(
        price_list, "create", actor=actor, actor_label=actor_label, changes={"version": 1, "skus": len(version.prices)}
    )
    return price_list


@transaction.atomic
def price_list_edit(
    *,
    price_list: PriceList,
    prices: Mapping[str, Any] | None = None,
    starts_at: dt.datetime | None = None,
    channels: Iterable[Connection] | None = None,
    costs: Mapping[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> PriceListVersion:
    """A new version; the published one stays on the channels until this one is published. Costs
    not given are kept from the previous version for the SKUs still listed."""
    price_list = _locked(price_list)
    previous = price_list.current_version
    author = _who(actor, actor_label)
    clean = _clean_prices(prices, price_list.currency) if prices is not None else previous.prices
    if costs is None:
        costs = {sku: cost for sku, cost in (previous.costs or {}).items() if sku in clean}
    version = PriceListVersion.objects.create(
        price_list=price_list,
        number=previous.number + 1,
        starts_at=_aware(starts_at) if starts_at else previous.starts_at,
        prices=clean,
        costs=_clean_costs(costs, clean, price_list.currency),
        **author.fields,
    )
    version.channels.set(_channels(channels) if channels is not None else previous.channels.all())
    price_list.current_version = version
    price_list.status = S.DRAFT
    price_list.save(update_fields=["current_version", "status", "updated_at"])
    _audit(price_list, "edit", actor=actor, actor_label=actor_label, changes={"version": version.number})
    return version


def _changes(price_list: PriceList, version: PriceListVersion) -> dict[str, Decimal]:
    """Percent change per SKU against the published version (new SKUs are not changes)."""
    base = price_list.published_version
    if base is None:
        return {}
    changes = {}
    for sku, price in version.prices.items():
        before = base.prices.get(sku)
        if before is not None and Decimal(before) > 0:
            changes[sku] = ((Decimal(price) - Decimal(before)) / Decimal(before) * 100).quantize(Decimal("0.01"))
    return changes


@transaction.atomic
def price_list_validate(*, price_list: PriceList, actor: User | None = None, actor_label: str | None = None) -> dict:
    price_list = _locked(price_list)
    if price_list.status not in (S.DRAFT, S.VALIDATED, S.PUBLISHED):
        raise ValidationError(
            {"status": f"Cannot validate a price list that is {price_list.status}."}, code="illegal_transition"
        )
    version = price_list.current_version
    if version.submitted_at is not None or price_list.published_version_id == version.pk:
        raise ValidationError({"status": "This version was already submitted or published; edit to make a new one."})
    errors, warnings = [], []
    if not version.channels.exists():
        errors.append({"rule": "channels", "message": "Choose at least one sales channel."})
    for channel in version.channels.all():
        try:
            adapter = channel_adapter(channel.vendor)
        except LookupError:
            errors.append({"rule": "channels", "message": f"{channel.name}: no adapter for {channel.vendor}."})
            continue
        if "prices" not in adapter.features:
            errors.append(
                {"rule": "channels", "message": f"{channel.name}: {channel.vendor} does not take price lists."}
            )
    changes = _changes(price_list, version)
    biggest = max((abs(change) for change in changes.values()), default=Decimal(0))
    requires_approval = biggest > price_list.approval_threshold_percent
    if requires_approval:
        moved = ", ".join(
            f"{sku} {change:+}%"
            for sku, change in changes.items()
            if abs(change) > price_list.approval_threshold_percent
        )
        warnings.append(
            {
                "rule": "approval",
                "message": f"Prices move more than {price_list.approval_threshold_percent}% ({moved}): "
                "a second person must approve.",
            }
        )
    results = {
        "ok": not errors,
        "errors": errors,
        "warnings": warnings,
        "changes": {sku: str(change) for sku, change in changes.items()},
        "at": timezone.now().isoformat(),
    }
    version.validation, version.requires_approval = results, requires_approval
    version.save(update_fields=["validation", "requires_approval"])
    price_list.status = S.VALIDATED if results["ok"] else S.DRAFT
    price_list.save(update_fields=["status", "updated_at"])
    _audit(price_list, "validate", actor=actor, actor_label=actor_label, changes={"ok": results["ok"]})
    return results


@transaction.atomic
def price_list_submit(*, price_list: PriceList, actor: User | None = None, actor_label: str | None = None) -> PriceList:
    price_list = _locked(price_list)
    if price_list.status == S.SUBMITTED:
        return price_list
    if price_list.status != S.VALIDATED:
        raise ValidationError(
            {"status": f"Only a validated price list can be submitted; it is {price_list.status}."},
            code="illegal_transition",
        )
    version = price_list.current_version
    version.submitted_at = timezone.now()
    version.save(update_fields=["submitted_at"])
    price_list.status = S.SUBMITTED
    price_list.save(update_fields=["status", "updated_at"])
    _audit(price_list, "submit", actor=actor, actor_label=actor_label, changes={"version": version.number})
    return price_list


@transaction.atomic
def price_list_approve(*, price_list: PriceList, actor: User | None) -> PriceList:
    price_list = _locked(price_list)
    version = price_list.current_version
    if price_list.status == S.APPROVED and actor is not None and version.approved_by_id == actor.pk:
        return price_list
    if price_list.status != S.SUBMITTED:
        raise ValidationError(
            {"status": f"Only a submitted price list can be approved; it is {price_list.status}."},
            code="illegal_transition",
        )
    four_eyes_check(
        author_id=version.author_id,
        author_email=version.author_email,
        author_key=version.author_key,
        actor=actor,
        verb="approve",
    )
    if membership_role_for_tenant(user=actor, tenant=_tenant()) not in APPROVER_ROLES:
        raise PermissionDenied("Approving takes a tenant admin or a partner role.")
    version.approved_by_id, version.approved_by_email, version.approved_at = actor.pk, actor.email, timezone.now()
    version.save(update_fields=["approved_by_id", "approved_by_email", "approved_at"])
    price_list.status = S.APPROVED
    price_list.save(update_fields=["status", "updated_at"])
    _audit(price_list, "approve", actor=actor, actor_label=None, changes={"version": version.number})
    return price_list


@transaction.atomic
def price_list_publish(
    *, price_list: PriceList, actor: User | None = None, actor_label: str | None = None
) -> list[PriceListDeployment]:
    """Publish the current version: approved, or validated when no price moves past the threshold.
    A version that starts later is scheduled: the published prices stay on the channels until its
    start (a time in the tenant's zone), when `price_lists_publish_due` sends it."""
    price_list = _locked(price_list)
    version = price_list.current_version
    if price_list.published_version_id == version.pk:
        return list(version.deployments.select_related("connection"))
    if price_list.status == S.SCHEDULED:
        return []
    ready = price_list.status == S.APPROVED or (price_list.status == S.VALIDATED and not version.requires_approval)
    if not ready:
        needed = "approved" if version.requires_approval else "validated"
        raise ValidationError(
            {"status": f"This version must be {needed} before it is published; it is {price_list.status}."},
            code="illegal_transition",
        )
    if version.starts_at > timezone.now():
        price_list.status = S.SCHEDULED
        price_list.save(update_fields=["status", "updated_at"])
        _audit(
            price_list,
            "schedule",
            actor=actor,
            actor_label=actor_label,
            changes={"version": version.number, "starts_at": version.starts_at.isoformat()},
        )
        return []
    return price_list_publish_now(price_list=price_list, actor=actor, actor_label=actor_label)


def price_list_publish_now(
    *, price_list: PriceList, actor: User | None = None, actor_label: str | None = None
) -> list[PriceListDeployment]:
    """Make the (locked) list's current version the published one and send it to every channel."""
    version = price_list.current_version
    deployments = [
        PriceListDeployment.objects.get_or_create(version=version, connection=channel)[0]
        for channel in version.channels.all().order_by("pk")
    ]
    price_list.published_version, price_list.status = version, S.PUBLISHED
    price_list.save(update_fields=["published_version", "status", "updated_at"])
    _audit(price_list, "publish", actor=actor, actor_label=actor_label, changes={"version": version.number})
    price_list_send_task = task_named("promotions.price_list_send")
    for deployment in deployments:
        deployment_id = deployment.pk
        transaction.on_commit(lambda deployment_id=deployment_id: price_list_send_task.delay(deployment_id))
    return deployments


@transaction.atomic
def price_list_send(*, deployment_id: int) -> PriceListDeployment | None:
    """The task body: set the prices on one channel and keep every price it shows afterwards.
    Acknowledged only when the channel shows every price of the version."""
    deployment = (
        PriceListDeployment.objects.select_for_update(of=("self",))
        .select_related("version__price_list", "connection")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None or deployment.state == P.ACKNOWLEDGED:
        return deployment
    version, price_list = deployment.version, deployment.version.price_list
    spec = PriceSpec(
        key=price_list.key,
        version=version.number,
        currency=price_list.currency,
        starts_at=version.starts_at,
        prices={sku: Decimal(price) for sku, price in version.prices.items()},
    )
    deployment.attempts += 1
    now = timezone.now()
    try:
        shown = connection_adapter(deployment.connection).publish_prices(deployment.connection, spec)
    except Exception as error:  # any channel failure is recorded and triaged
        deployment.state, deployment.last_error = P.FAILED, str(getattr(error, "message", error))[:2000]
    else:
        ChannelPrice.objects.bulk_create(
            ChannelPrice(
                deployment=deployment,
                connection=deployment.connection,
                sku=sku,
                price=Decimal(price),
                expected=spec.prices.get(sku, Decimal(0)),
                shown_at=now,
            )
            for sku, price in shown.items()
        )
        wrong = sorted(sku for sku, price in spec.prices.items() if shown.get(sku) != price)
        if wrong:
            deployment.state = P.FAILED
            deployment.last_error = "The channel shows other prices for: " + ", ".join(
                f"{sku} ({shown.get(sku, 'missing')} not {spec.prices[sku]})" for sku in wrong
            )
        else:
            deployment.state, deployment.acknowledged_at, deployment.last_error = P.ACKNOWLEDGED, now, ""
    deployment.save()
    if deployment.state == P.FAILED:
        exception_raise(
            kind=TriageKind.PROMOTION_DEPLOYMENT,
            cause="price_list_not_applied",
            obj=deployment,
            title=f"{price_list.key} v{version.number} not applied on {deployment.connection.name}",
            detail=deployment.last_error,
            context={"price_list": price_list.key, "version": version.number, "channel": deployment.connection.name},
            retry=RetryAction(PRICE_RETRY_ACTION, {"deployment_id": deployment.pk}),
        )
    else:
        exception_resolve_for_object(obj=deployment, reason="The channel shows every price of the version.")
    return deployment


def price_list_resend(*, deployment_id: int) -> None:
    """The retry action: send the version to the channel again; raises while it still fails."""
    PriceListDeployment.objects.filter(pk=deployment_id, state=P.FAILED).update(state=P.PENDING)
    deployment = price_list_send(deployment_id=deployment_id)
    if deployment is not None and deployment.state == P.FAILED:
        raise RuntimeError(deployment.last_error)
