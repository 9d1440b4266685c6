"""Returns (RMA, issue 19): one service per transition of a `Return`.

    requested → approved | rejected;  approved → in_transit | received;  in_transit → received;
    received → inspected;  inspected → refunded | closed;  refunded → closed;  rejected → closed.

`TRANSITIONS` is the whole table: any other move raises `IllegalTransition` (the API answers 409,
the pages show the message). Approval takes a person; a return worth more than the tenant's
`ReturnPolicy.second_approval_above` takes two different people (four eyes). Receipt (and a
disposition changed at inspection) moves stock through commerce.inventory's level service:
`restock` units go back on hand at the return's location, `refurbish` and `scrap` units are
recorded on the line and never become sellable.

Money is posting's business: posting registers a listener (`return_listener_register`, from its
AppConfig.ready) that hears "received", "refund_linked" and "refunded" and posts by DESIGN.md §4."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from commerce.documents import CanonicalInventoryLevel
from commerce.documents_returns import CanonicalReturn
from commerce.inventory import inventory_level_upsert, inventory_location_ensure
from commerce.models import (
    InventoryLevel,
    InventoryLocation,
    Order,
    OrderLine,
    Refund,
    Return,
    ReturnEvent,
    ReturnLine,
    ReturnPolicy,
)
from commerce.upserts import UpsertOutcome, UpsertResult, stale_result
from core.money import quantize
from tenants.api_keys import api_key_person
from tenants.audit import audit_diff, audit_record_in_tenant
from tenants.models import User
from tenants.webhooks import tenant_event_emit

S = Return.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.IN_TRANSIT, S.RECEIVED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.IN_TRANSIT: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset({S.INSPECTED}),
    S.INSPECTED: frozenset({S.REFUNDED, S.CLOSED}),
    S.REFUNDED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
OPEN_STATUSES = (S.REQUESTED, S.APPROVED, S.IN_TRANSIT, S.RECEIVED, S.INSPECTED)
POLICY_FIELDS = ("second_approval_above", "refund_unreceived_days", "received_unrefunded_days")
RETURNS_LOCATION = "returns"  # where returned goods land when the order names no location


class IllegalTransition(ValidationError):
    """A move the transition table does not allow (a rejected return cannot be received)."""

    def __init__(self, ret: Return, target: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[ret.status])) or "none: it is closed"
        super().__init__(
            f"Return {ret.name or ret.pk} is {ret.get_status_display().lower()}; it cannot become "
            f"{S(target).label.lower()} (allowed next: {allowed})."
        )
        self.current = ret.status
        self.target = target


# ---- listeners (posting registers from its AppConfig.ready) ---------------------------------

Listener = Callable[..., None]
_LISTENERS: list[Listener] = []


def return_listener_register(listener: Listener) -> None:
    """`listener(ret=..., action=...)` runs inside the transition's transaction."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def _notify(ret: Return, action: str) -> None:
    for listener in _LISTENERS:
        listener(ret=ret, action=action)


# ---- helpers --------------------------------------------------------------------------------


def return_policy_get() -> ReturnPolicy:
    return ReturnPolicy.stored()


@transaction.atomic
def return_policy_update(*, actor: User | None = None, **values: Any) -> ReturnPolicy:
    policy = ReturnPolicy.locked()
    before = {name: str(getattr(policy, name)) for name in POLICY_FIELDS}
    for name in POLICY_FIELDS:
        if name in values:
            setattr(policy, name, values[name])
    policy.full_clean()
    policy.save()
    changes = audit_diff(before, {name: str(getattr(policy, name)) for name in POLICY_FIELDS})
    if changes and actor is not None:
        audit_record_in_tenant(actor=actor, action="return_policy.update", target=policy, changes=changes)
    return policy


def _person(actor: User | None, actor_label: str | None) -> tuple[int | None, str]:
    """The person acting: a session user, or the person owning the API key; else (None, label)."""
    if actor is not None:
        return actor.pk, actor.email
    person = api_key_person(actor_label=actor_label) if actor_label else None
    if person is not None:
        return person.pk, f"{person.email} ({actor_label})"
    return None, actor_label or "system"


def _event(ret: Return, action: str, *, actor_id: int | None = None, label: str = "", **detail: Any) -> None:
    ReturnEvent.objects.create(
        ret=ret,
        at=timezone.now(),
        action=action,
        status=ret.status,
        actor_id=actor_id,
        actor_label=label[:160],
        detail={key: str(value) if isinstance(value, Decimal) else value for key, value in detail.items()},
    )


def _locked(ret: Return) -> Return:
    return Return.objects.select_for_update().select_related("order").get(pk=ret.pk)


def _check(ret: Return, target: str) -> None:
    if target not in TRANSITIONS[ret.status]:
        raise IllegalTransition(ret, target)


def _move(ret: Return, target: str, *, actor_id: int | None, label: str, **detail: Any) -> None:
    _check(ret, target)
    ret.status = target
    ret.save()
    _event(ret, target, actor_id=actor_id, label=label, **detail)


def _emit(ret: Return, event: str) -> None:
    tenant_event_emit(
        event=event,
        payload={
            "return": ret.pk,
            "name": ret.name,
            "order": ret.order.external_id,
            "status": ret.status,
            "value": str(quantize(ret.value, ret.currency)),
            "currency": ret.currency,
        },
    )


def line_value(order_line: OrderLine, quantity: int, currency: str) -> Decimal:
    """The net (after discounts) value of `quantity` units of an order line."""
    if not order_line.quantity:
        return Decimal(0)
    return quantize(order_line.net * quantity / order_line.quantity, currency)


# ---- creation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRequest:
    order_line: OrderLine
    quantity: int
    reason: str = ""
    disposition: str = ReturnLine.Disposition.RESTOCK
    external_id: str = ""


def returnable_quantity(*, order_line: OrderLine, excluding: Return | None = None) -> int:
    """Ordered less what other returns (not rejected) already take back."""
    taken = ReturnLine.objects.filter(order_line=order_line).exclude(ret__status=S.REJECTED)
    if excluding is not None:
        taken = taken.exclude(ret=excluding)
    return order_line.quantity - sum(taken.values_list("quantity", flat=True))


def _lines_validate(order: Order, lines: Iterable[LineRequest]) -> list[LineRequest]:
    lines = list(lines)
    errors: list[str] = []
    if not lines:
        errors.append("A return needs at least one line.")
    for line in lines:
        if line.order_line.order_id != order.pk:
            errors.append(f"Line {line.order_line.external_id} is not on order {order.external_id}.")
        elif line.quantity < 1:
            errors.append(f"Line {line.order_line.external_id}: return at least one unit.")
        elif line.quantity > returnable_quantity(order_line=line.order_line):
            errors.append(
                f"Line {line.order_line.external_id}: {line.quantity} asked, only "
                f"{returnable_quantity(order_line=line.order_line)} can still be returned."
            )
        if line.disposition not in ReturnLine.Disposition.values:
            errors.append(f"{line.disposition!r} is not restock, refurbish or scrap.")
    if errors:
        raise ValidationError({"lines": errors})
    return lines


def _amounts_validate(**amounts: Decimal) -> None:
    errors = {name: ["Must not be negative."] for name, value in amounts.items() if value < 0}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def return_create(
    *,
    order: Order,
    lines: Iterable[LineRequest],
    origin: str = Return.Origin.PORTAL,
    reason: str = "",
    restocking_fee: Decimal = Decimal(0),
    shipping_cost: Decimal = Decimal(0),
    shipping_paid_by: str = Return.ShippingPaidBy.MERCHANT,
    exchange_order: Order | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
    **source: Any,
) -> Return:
    """A return request, from the portal or the API (channels without returns: WooCommerce), or
    from a channel's document (`source`, `source_connection_id`, `external_id`, ...)."""
    checked = _lines_validate(order, lines)
    _amounts_validate(restocking_fee=restocking_fee, shipping_cost=shipping_cost)
    if shipping_paid_by not in Return.ShippingPaidBy.values:
        raise ValidationError({"shipping_paid_by": ["Merchant or customer."]})
    if exchange_order is not None and exchange_order.pk == order.pk:
        raise ValidationError({"exchange_order": ["An exchange is a new order, not the returned one."]})
    person_id, label = _person(actor, actor_label)
    ret = Return.objects.create(
        order=order,
        origin=origin,
        currency=order.currency,
        value=sum((line_value(line.order_line, line.quantity, order.currency) for line in checked), Decimal(0)),
        reason=reason[:255],
        restocking_fee=quantize(restocking_fee, order.currency),
        shipping_cost=quantize(shipping_cost, order.currency),
        shipping_paid_by=shipping_paid_by,
        exchange_order=exchange_order,
        requested_by_id=person_id,
        requested_by_label=label[:160],
        requested_at=source.pop("requested_at", None) or timezone.now(),
        **source,
    )
    if not ret.name:
        ret.name = f"RMA-{ret.pk}"
        ret.save(update_fields=["name"])
    ReturnLine.objects.bulk_create(
        ReturnLine(
            ret=ret,
            order_line=line.order_line,
            quantity=line.quantity,
            reason=line.reason[:255],
            disposition=line.disposition,
            external_id=line.external_id[:120],
        )
        for line in checked
    )
    _event(ret, "requested", actor_id=person_id, label=label, value=ret.value)
    return ret


# ---- transitions ----------------------------------------------------------------------------


@transaction.atomic
def return_approve(*, ret: Return, actor: User | None, actor_label: str | None = None) -> Return:
    """Approve; above the tenant's limit the first approval waits for a second, different person."""
    ret = _locked(ret)
    _check(ret, S.APPROVED)
    person_id, label = _person(actor, actor_label)
    if person_id is None:
        raise PermissionDenied("It takes a person to approve a return, not the system or a key no person owns.")
    if any(approval.get("user_id") == person_id for approval in ret.approvals):
        raise PermissionDenied("You already approved this return; a second, different person must approve it.")
    ret.approvals = [*ret.approvals, {"user_id": person_id, "label": label, "at": timezone.now().isoformat()}]
    needed = 2 if ret.value > return_policy_get().second_approval_above else 1
    if len(ret.approvals) < needed:
        ret.save(update_fields=["approvals", "updated_at"])
        _event(ret, "first_approval", actor_id=person_id, label=label, needs="a second, different person")
        return ret
    ret.decided_at = timezone.now()
    _move(ret, S.APPROVED, actor_id=person_id, label=label, approvers=len(ret.approvals))
    _emit(ret, "return.approved")
    return ret


@transaction.atomic
def return_reject(*, ret: Return, actor: User | None, actor_label: str | None = None, reason: str = "") -> Return:
    ret = _locked(ret)
    person_id, label = _person(actor, actor_label)
    if person_id is None:
        raise PermissionDenied("It takes a person to reject a return.")
    ret.decided_at = timezone.now()
    _move(ret, S.REJECTED, actor_id=person_id, label=label, reason=reason[:255])
    return ret


@transaction.atomic
def return_ship(
    *, ret: Return, tracking_number: str = "", actor: User | None = None, actor_label: str | None = None
) -> Return:
    """The customer sent the goods back (a label was used)."""
    ret = _locked(ret)
    ret.tracking_number = tracking_number[:120]
    person_id, label = _person(actor, actor_label)
    _move(ret, S.IN_TRANSIT, actor_id=person_id, label=label, tracking_number=ret.tracking_number)
    return ret


def _dispositions_apply(ret: Return, changes: dict[int, dict[str, str]] | None) -> None:
    """`changes`: {return line id: {"disposition": ..., "condition": ...}}."""
    for line in ret.lines.all():
        change = (changes or {}).get(line.pk) or {}
        disposition, condition = change.get("disposition"), change.get("condition")
        if disposition and disposition not in ReturnLine.Disposition.values:
            raise ValidationError({"disposition": [f"{disposition!r} is not restock, refurbish or scrap."]})
        if condition and condition not in ReturnLine.Condition.values:
            raise ValidationError({"condition": [f"{condition!r} is not a known condition."]})
        if disposition or condition:
            line.disposition = disposition or line.disposition
            line.condition = condition or line.condition
            line.save(update_fields=["disposition", "condition"])


def return_location(ret: Return) -> InventoryLocation:
    """Where the goods land: the return's location, the order's store, its source's web location,
    else a 'Returns' warehouse."""
    if ret.location_id:
        return ret.location
    order = ret.order
    candidates = InventoryLocation.objects.filter(source=order.source, source_connection_id=order.source_connection_id)
    location = candidates.filter(external_id=order.store).first() if order.store else None
    location = location or candidates.filter(kind=InventoryLocation.Kind.WEB).order_by("pk").first()
    return location or inventory_location_ensure(
        source=RETURNS_LOCATION,
        connection_id=None,
        external_id=RETURNS_LOCATION,
        name="Returns",
        kind=InventoryLocation.Kind.WAREHOUSE,
    )


def _on_hand_add(location: InventoryLocation, sku: str, delta: Decimal) -> None:
    """Add to a level through the inventory service (a new version of the level, so the next count
    from its source replaces it as usual)."""
    level = InventoryLevel.objects.select_for_update().filter(location=location, sku=sku).first()
    inventory_level_upsert(
        source=location.source,
        connection_id=location.source_connection_id,
        document=CanonicalInventoryLevel(
            location_external_id=location.external_id,
            sku=sku,
            on_hand=(level.on_hand if level else Decimal(0)) + delta,
            source_version=(level.source_version + 1) if level else 1,
            external_id=level.external_id if level else "",
            location_name=location.name,
            net_of_source_orders=level.net_of_source_orders if level else False,
        ),
    )


def _restock_apply(ret: Return) -> list[dict]:
    """Bring each line's restocked units to its disposition: all units for restock, none otherwise."""
    location = return_location(ret)
    if ret.location_id != location.pk:
        ret.location = location
        ret.save(update_fields=["location", "updated_at"])
    moved = []
    for line in ret.lines.select_related("order_line"):
        wanted = Decimal(line.quantity) if line.disposition == ReturnLine.Disposition.RESTOCK else Decimal(0)
        delta = wanted - line.restocked
        if delta and line.order_line.sku:
            _on_hand_add(location, line.order_line.sku, delta)
            line.restocked = wanted
            line.save(update_fields=["restocked"])
            moved.append({"sku": line.order_line.sku, "on_hand": str(delta), "location": location.external_id})
    return moved


@transaction.atomic
def return_receive(
    *,
    ret: Return,
    actor: User | None = None,
    actor_label: str | None = None,
    lines: dict[int, dict[str, str]] | None = None,
    location: InventoryLocation | None = None,
) -> Return:
    """The goods are back: restock by disposition, then tell posting (accrual if not refunded)."""
    ret = _locked(ret)
    _check(ret, S.RECEIVED)
    _dispositions_apply(ret, lines)
    if location is not None:
        ret.location = location
    ret.received_at = timezone.now()
    person_id, label = _person(actor, actor_label)
    _move(ret, S.RECEIVED, actor_id=person_id, label=label)
    moved = _restock_apply(ret)
    if moved:
        _event(ret, "restocked", actor_id=person_id, label=label, moves=moved)
    _emit(ret, "return.received")
    _notify(ret, "received")
    return ret


@transaction.atomic
def return_inspect(
    *,
    ret: Return,
    actor: User | None = None,
    actor_label: str | None = None,
    lines: dict[int, dict[str, str]] | None = None,
) -> Return:
    """Record condition and final disposition (stock follows); refunded at once if a refund is linked."""
    ret = _locked(ret)
    _check(ret, S.INSPECTED)
    _dispositions_apply(ret, lines)
    person_id, label = _person(actor, actor_label)
    _move(ret, S.INSPECTED, actor_id=person_id, label=label)
    moved = _restock_apply(ret)
    if moved:
        _event(ret, "restock_corrected", actor_id=person_id, label=label, moves=moved)
    if ret.refunds.exists():
        _refunded(ret, actor_id=person_id, label=label)
    return ret


def _refunded(ret: Return, *, actor_id: int | None, label: str) -> None:
    ret.refunded_at = max(ret.refunds.values_list("processed_at", flat=True), default=None) or timezone.now()
    ret.refunded_at = max(ret.refunded_at, ret.received_at or ret.refunded_at)
    _move(ret, S.REFUNDED, actor_id=actor_id, label=label)
    _emit(ret, "return.refunded")
    _notify(ret, "refunded")


@transaction.atomic
def return_refund_link(
    *, ret: Return, refund: Refund, actor: User | None = None, actor_label: str | None = None
) -> Return:
    """Link a refund of the return's order (any time); an inspected return becomes refunded."""
    ret = _locked(ret)
    if refund.order_id != ret.order_id:
        raise ValidationError({"refund": [f"Refund {refund.external_id} is not for order {ret.order.external_id}."]})
    if ret.refunds.filter(pk=refund.pk).exists():
        return ret
    ret.refunds.add(refund)
    person_id, label = _person(actor, actor_label)
    _event(ret, "refund_linked", actor_id=person_id, label=label, refund=refund.external_id)
    _notify(ret, "refund_linked")
    if ret.status == S.INSPECTED:
        _refunded(ret, actor_id=person_id, label=label)
    return ret


@transaction.atomic
def return_close(*, ret: Return, actor: User | None = None, actor_label: str | None = None, note: str = "") -> Return:
    ret = _locked(ret)
    ret.closed_at = timezone.now()
    person_id, label = _person(actor, actor_label)
    _move(ret, S.CLOSED, actor_id=person_id, label=label, note=note[:255])
    return ret


def return_refunds_match(*, ret: Return) -> int:
    """Link refunds of the order that give back the return's lines and belong to no other return."""
    line_ids = set(ret.lines.values_list("order_line_id", flat=True))
    candidates = (
        Refund.objects.filter(order_id=ret.order_id, lines__order_line_id__in=line_ids)
        .exclude(returns__isnull=False)
        .distinct()
    )
    linked = 0
    for refund in candidates:
        return_refund_link(ret=ret, refund=refund, actor_label="matched by order lines")
        linked += 1
    return linked


# ---- channel returns ------------------------------------------------------------------------

_STEPS: dict[str, Callable[..., Return]] = {
    S.APPROVED: lambda ret, label: _channel_approve(ret, label),
    S.REJECTED: lambda ret, label: _channel_move(ret, S.REJECTED, label),
    S.IN_TRANSIT: lambda ret, label: return_ship(ret=ret, actor_label=label),
    S.RECEIVED: lambda ret, label: return_receive(ret=ret, actor_label=label),
    S.INSPECTED: lambda ret, label: return_inspect(ret=ret, actor_label=label),
    S.CLOSED: lambda ret, label: return_close(ret=ret, actor_label=label),
}


def _channel_move(ret: Return, target: str, label: str) -> Return:
    ret = _locked(ret)
    ret.decided_at = timezone.now()
    _move(ret, target, actor_id=None, label=label)
    return ret


def _channel_approve(ret: Return, label: str) -> Return:
    """The channel's staff approved it there: recorded as the channel's decision."""
    ret = _channel_move(ret, S.APPROVED, label)
    _emit(ret, "return.approved")
    return ret


def _path(start: str, target: str) -> list[str]:
    """The shortest legal walk from `start` to `target` (empty when already there or unreachable)."""
    queue, seen = deque([(start, [])]), {start}
    while queue:
        status, path = queue.popleft()
        if status == target:
            return path
        for step in sorted(TRANSITIONS[status]):
            # refunded follows a refund, never a channel state; a closed return was not rejected on the way
            if step not in seen and step != S.REFUNDED and (step != S.REJECTED or target == S.REJECTED):
                seen.add(step)
                queue.append((step, [*path, step]))
    return []


def return_advance(*, ret: Return, target: str, label: str) -> Return:
    """Walk a channel return to the state the channel reports, through every legal step."""
    for step in _path(ret.status, target):
        ret = _STEPS[step](ret, label)
    return ret


@transaction.atomic
def return_upsert(*, source: str, connection_id: int | None, document: CanonicalReturn) -> UpsertResult[Return]:
    """Store a channel's return, idempotent on (source, connection, external id), older versions ignored."""
    order = Order.objects.get(source=source, source_connection_id=connection_id, external_id=document.order_external_id)
    existing = (
        Return.objects.select_for_update()
        .filter(source=source, source_connection_id=connection_id, external_id=document.external_id)
        .first()
    )
    stale = stale_result(existing, document.source_version, "return", document.external_id)
    if stale is not None:
        return stale
    if existing is None:
        by_id = {line.external_id: line for line in order.lines.all()}
        missing = [line.line_external_id for line in document.lines if line.line_external_id not in by_id]
        if missing:
            raise ValidationError({"lines": [f"Order {order.external_id} has no line {', '.join(missing)}."]})
        ret = return_create(
            order=order,
            lines=[
                LineRequest(by_id[line.line_external_id], line.quantity, line.reason, external_id=line.external_id)
                for line in document.lines
            ],
            origin=Return.Origin.CHANNEL,
            reason=document.reason,
            restocking_fee=document.restocking_fee,
            shipping_cost=document.shipping_cost,
            shipping_paid_by=document.shipping_paid_by,
            actor_label=source,
            source=source,
            source_connection_id=connection_id,
            external_id=document.external_id,
            source_version=document.source_version,
            raw_event_id=document.raw_event_id,
            name=document.name[:60],
            requested_at=document.requested_at,  # None → now (return_create)
        )
    else:
        ret = existing
        ret.source_version, ret.raw_event_id = document.source_version, document.raw_event_id
        ret.save(update_fields=["source_version", "raw_event_id", "updated_at"])
    ret = return_advance(ret=ret, target=document.status, label=source)
    return_refunds_match(ret=ret)
    return UpsertResult(UpsertOutcome.CREATED if existing is None else UpsertOutcome.UPDATED, ret)
