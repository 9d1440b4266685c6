"""Writes for inventory and available-to-sell (issue 8, part 4).

ATS = on hand - reserved - safety stock, per SKU and location. Every write that can move an ATS
marks the (location, sku) changed in `StockChange`, in the same transaction; the debounced push
(commerce/inventory_sync.py) sends the latest figure to every channel selling from the location.

Levels are idempotent on (location, sku) and out-of-order safe: an update whose source version is
older than the stored one is ignored, exactly like orders (commerce/services.py)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import structlog
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from commerce.documents import CanonicalInventoryLevel
from commerce.inventory_sync import inventory_push_schedule, sales_channel_vendors
from commerce.models import (
    ChannelLocation,
    FulfilmentLine,
    InventoryLevel,
    InventoryLocation,
    Order,
    OrderLine,
    RefundLine,
    Reservation,
    SafetyStock,
    StockChange,
)
from commerce.selectors import quantity_per_order_line
from commerce.upserts import UpsertOutcome, UpsertResult, stale_result
from tenants.audit import audit_record

if TYPE_CHECKING:
    from connectors.models import Connection
    from tenants.models import User

log = structlog.get_logger(__name__)

# DecimalField(max_digits=14, decimal_places=3): 11 integer digits.
QUANTITY_LIMIT = Decimal("99999999999")
QUANTUM = Decimal("0.001")
SKU_MAX = 120


def quantity_parse(value: Any, *, field: str, allow_negative: bool = True) -> Decimal:
    """An exact stock quantity (at most 3 decimals, within the column); ValidationError otherwise.
    Floats are refused: `0.1 + 0.2` is not a stock figure."""
    if isinstance(value, bool | float) or value is None:
        raise ValidationError({field: [f"{value!r} is not a quantity."]})
    try:
        quantity = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValidationError({field: [f"{value!r} is not a quantity."]}) from None
    if not quantity.is_finite():
        raise ValidationError({field: [f"{value!r} is not a quantity."]})
    if quantity.quantize(QUANTUM) != quantity:
        raise ValidationError({field: [f"{value} has more than 3 decimals."]})
    if abs(quantity) > QUANTITY_LIMIT:
        raise ValidationError({field: [f"{value} is out of range."]})
    if not allow_negative and quantity < 0:
        raise ValidationError({field: [f"{value} must not be negative."]})
    return quantity


def quantity_text(value: Decimal) -> str:
    """A quantity as people write it: 2, 2.5 (no trailing zeros, no exponent)."""
    return f"{value.normalize():f}"


def _sku_check(errors: dict[str, list[str]], sku: Any) -> None:
    if not isinstance(sku, str) or not sku.strip():
        errors.setdefault("sku", []).append("A stock level needs a SKU.")
    elif len(sku) > SKU_MAX:
        errors.setdefault("sku", []).append(f"A SKU has at most {SKU_MAX} characters.")


def inventory_document_validate(document: CanonicalInventoryLevel) -> Decimal:
    errors: dict[str, list[str]] = {}
    _sku_check(errors, document.sku)
    if not document.location_external_id or len(document.location_external_id) > 120:
        errors["location_external_id"] = ["A stock level needs a location id of at most 120 characters."]
    if not isinstance(document.source_version, int) or isinstance(document.source_version, bool):
        errors["source_version"] = [f"{document.source_version!r} is not a version number."]
    on_hand = None
    try:
        on_hand = quantity_parse(document.on_hand, field="on_hand")
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return on_hand


def inventory_location_ensure(
    *, source: str, connection_id: int | None, external_id: str, name: str = "", kind: str | None = None
) -> InventoryLocation:
    # get_or_create guards its own insert; no savepoint of ours around the common read.
    location, created = InventoryLocation.objects.get_or_create(
        source=source,
        source_connection_id=connection_id,
        external_id=external_id,
        defaults={"name": name[:120], "kind": kind or InventoryLocation.Kind.STORE},
    )
    if not created and name and not location.name:
        location.name = name[:120]
        location.save(update_fields=["name"])
    return location


@transaction.atomic
def inventory_level_upsert(
    *, source: str, connection_id: int | None, document: CanonicalInventoryLevel
) -> UpsertResult[InventoryLevel]:
    """Store one level. Idempotent (same version → UNCHANGED) and out-of-order safe (older → IGNORED_STALE)."""
    on_hand = inventory_document_validate(document)
    location = inventory_location_ensure(
        source=source,
        connection_id=connection_id,
        external_id=document.location_external_id,
        name=document.location_name,
    )
    fields = {
        "on_hand": on_hand,
        "net_of_source_orders": document.net_of_source_orders,
        "source": source,
        "source_connection_id": connection_id,
        "external_id": document.external_id[:120],
        "source_version": document.source_version,
        "source_updated_at": document.updated_at,
        "raw_event_id": document.raw_event_id,
    }
    existing = InventoryLevel.objects.select_for_update().filter(location=location, sku=document.sku).first()
    if existing is None:
        try:
            with transaction.atomic():
                level = InventoryLevel.objects.create(location=location, sku=document.sku, **fields)
        except IntegrityError:
            # A concurrent first report of the same level won: compare against it.
            existing = InventoryLevel.objects.select_for_update().get(location=location, sku=document.sku)
        else:
            stock_changed_mark(pairs=[(location.pk, document.sku)])
            return UpsertResult(UpsertOutcome.CREATED, level)
    stale = stale_result(existing, document.source_version, "inventory_level", f"{location.external_id}:{document.sku}")
    if stale is not None:
        return stale
    moved = existing.on_hand != on_hand or existing.net_of_source_orders != document.net_of_source_orders
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save()
    if moved:
        stock_changed_mark(pairs=[(location.pk, document.sku)])
    return UpsertResult(UpsertOutcome.UPDATED, existing)


# ---- reservations --------------------------------------------------------------------------


def _order_location(order: Order) -> InventoryLocation | None:
    """The location an order draws from: its store/location id at the same source; else the
    source's web location (online orders are allocated there until fulfilled)."""
    candidates = InventoryLocation.objects.filter(source=order.source, source_connection_id=order.source_connection_id)
    if order.store:
        location = candidates.filter(external_id=order.store).first()
        if location is not None:
            return location
    return candidates.filter(kind=InventoryLocation.Kind.WEB).order_by("pk").first()


def reservations_held(*, order: Order) -> set[tuple[int | None, str]]:
    """The (location, sku) pairs an order holds stock at now (taken before its lines are rewritten)."""
    return set(
        Reservation.objects.filter(order_line__order=order, released_at__isnull=True).values_list("location_id", "sku")
    )


def reservation_hold(
    creates: list[Reservation],
    touched: set[tuple[int | None, str]],
    *,
    order: Order,
    line: OrderLine,
    location_id: int | None,
    quantity: Decimal,
) -> None:
    """Queue a new reservation of `quantity` of `line` at `location_id` in `creates` and the
    (location, SKU) pair in `touched`; nothing when no quantity is open. Shared by
    `reservations_sync` and the batched first writes (commerce.bulk)."""
    if quantity <= 0:
        return
    creates.append(
        Reservation(
            order_line=line,
            order_connection_id=order.source_connection_id,
            sku=line.sku,
            location_id=location_id,
            quantity=quantity,
        )
    )
    touched.add((location_id, line.sku))


def reservations_sync(*, order: Order, previously_held: set[tuple[int | None, str]] = frozenset()) -> int:
    """Reserve each line's unfulfilled, unrefunded quantity while the order is open; release it when
    the order is fulfilled, cancelled or refunded. Called explicitly by order and refund upserts.
    Returns how many reservations changed."""
    closed = "cancelled" if order.cancelled_at else ("fulfilled" if order.fulfilled_at else "")
    existing = {r.order_line_id: r for r in Reservation.objects.select_for_update().filter(order_line__order=order)}
    if closed and not any(r.released_at is None for r in existing.values()):
        # The common case for history and most webhooks: a closed order that holds nothing (2 queries).
        if previously_held:
            stock_changed_mark(pairs=previously_held)
        return 0
    lines = [line for line in order.lines.all() if line.sku]
    if not lines and not existing:
        if previously_held:
            stock_changed_mark(pairs=previously_held)
        return 0
    fulfilled: dict[int, int] = {}
    refunded: dict[int, int] = {}
    location_id = None
    if not closed:
        fulfilled = quantity_per_order_line(rows=FulfilmentLine.objects.filter(fulfilment__order=order))
        refunded = quantity_per_order_line(rows=RefundLine.objects.filter(refund__order=order))
        location = _order_location(order) if lines else None
        location_id = location.pk if location else None
    now = timezone.now()
    touched: set[tuple[int | None, str]] = set(previously_held)
    changed = 0
    creates: list[Reservation] = []
    for line in lines:
        done, returned = fulfilled.get(line.pk, 0), refunded.get(line.pk, 0)
        open_quantity = Decimal(0 if closed else max(0, line.quantity - done - returned))
        reason = closed or ("refunded" if returned and not done else "fulfilled")
        reservation = existing.get(line.pk)
        if reservation is None:
            reservation_hold(creates, touched, order=order, line=line, location_id=location_id, quantity=open_quantity)
            continue
        before = (reservation.location_id, reservation.sku, reservation.quantity, reservation.released_at is None)
        if open_quantity > 0:
            reservation.quantity, reservation.released_at, reservation.release_reason = open_quantity, None, ""
            reservation.location_id, reservation.sku = location_id, line.sku
        elif reservation.released_at is None:
            reservation.released_at, reservation.release_reason = now, reason
        after = (reservation.location_id, reservation.sku, reservation.quantity, reservation.released_at is None)
        if before != after:
            reservation.save()
            changed += 1
            touched.update({(before[0], before[1]), (after[0], after[1])})
    Reservation.objects.bulk_create(creates)
    stock_changed_mark(pairs=touched)
    return changed + len(creates)


# ---- safety stock and channel mapping ------------------------------------------------------


def _audit(*, actor: User | None, action: str, changes: dict, actor_label: str | None = None) -> None:
    tenant = getattr(connection, "tenant", None)
    if tenant is not None and getattr(tenant, "pk", None) and tenant.schema_name != "public":
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action=action,
            target=tenant,
            tenant=tenant,
            partner=tenant.partner,
            changes=changes,
        )


@transaction.atomic
def safety_stock_set(
    *, location: InventoryLocation, sku: str, quantity: Any, actor: User | None = None, actor_label: str | None = None
) -> SafetyStock | None:
    """Set the safety stock of one SKU at one location (None: back to the location's default). Audited."""
    errors: dict[str, list[str]] = {}
    _sku_check(errors, sku)
    if errors:
        raise ValidationError(errors)
    current = SafetyStock.objects.select_for_update().filter(location=location, sku=sku).first()
    before = quantity_text(current.quantity) if current else None
    if quantity is None or quantity == "":
        if current is not None:
            current.delete()
        result = None
    else:
        value = quantity_parse(quantity, field="quantity", allow_negative=False)
        if current is None:
            result = SafetyStock.objects.create(location=location, sku=sku, quantity=value)
        else:
            current.quantity = value
            current.save(update_fields=["quantity", "updated_at"])
            result = current
    after = quantity_text(result.quantity) if result else None
    if before != after:
        stock_changed_mark(pairs=[(location.pk, sku)])
        _audit(
            actor=actor,
            actor_label=actor_label,
            action="inventory.safety_stock_set",
            changes={"location": location.external_id, "sku": sku, "from": before, "to": after},
        )
    return result


@transaction.atomic
def inventory_location_update(
    *,
    location: InventoryLocation,
    name: str | None = None,
    kind: str | None = None,
    safety_stock_default: Any = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> InventoryLocation:
    """Rename a location, set its kind (a web location takes online orders without a store), or
    its default safety stock. Audited; a new default queues a push of every SKU there."""
    location = InventoryLocation.objects.select_for_update().get(pk=location.pk)
    changes: dict[str, Any] = {}
    if name is not None and name != location.name:
        if len(name) > 120:
            raise ValidationError({"name": ["A name has at most 120 characters."]})
        changes["name"], location.name = name, name
    if kind is not None and kind != location.kind:
        if kind not in InventoryLocation.Kind.values:
            raise ValidationError({"kind": [f"{kind!r} is not store, warehouse or web."]})
        changes["kind"], location.kind = kind, kind
    if changes:
        location.save(update_fields=list(changes))
        _audit(
            actor=actor,
            actor_label=actor_label,
            action="inventory.location_updated",
            changes={"location": location.external_id, **changes},
        )
    if safety_stock_default is not None:
        location = location_safety_default_set(
            location=location, quantity=safety_stock_default, actor=actor, actor_label=actor_label
        )
    return location


@transaction.atomic
def location_safety_default_set(
    *, location: InventoryLocation, quantity: Any, actor: User | None = None, actor_label: str | None = None
) -> InventoryLocation:
    value = quantity_parse(quantity, field="safety_stock_default", allow_negative=False)
    location = InventoryLocation.objects.select_for_update().get(pk=location.pk)
    before = location.safety_stock_default
    if before != value:
        location.safety_stock_default = value
        location.save(update_fields=["safety_stock_default"])
        _location_stock_changed(location)
        _audit(
            actor=actor,
            actor_label=actor_label,
            action="inventory.safety_default_set",
            changes={"location": location.external_id, "from": quantity_text(before), "to": quantity_text(value)},
        )
    return location


def channel_vendors() -> tuple[str, ...]:
    """Sales channels that hold stock figures (those with a channel adapter in connectors/vendors)."""
    return sales_channel_vendors()


@transaction.atomic
def channel_location_set(
    *,
    channel_connection: Connection,
    location: InventoryLocation,
    channel_location_id: str,
    actor: User | None = None,
    actor_label: str | None = None,
) -> ChannelLocation:
    """Say that a sales channel sells from `location` (under the channel's own location id); every
    SKU there is then pushed to it."""
    if not channel_location_id or len(channel_location_id) > 120:
        raise ValidationError({"channel_location_id": ["Give the channel's location id (at most 120 characters)."]})
    if channel_connection.vendor not in channel_vendors() or channel_connection.direction != "source":
        raise ValidationError(
            {"channel_connection": [f"{channel_connection} is not a sales channel that takes stock figures."]}
        )
    if location.source_connection_id == channel_connection.pk:
        # The channel counts this location itself: writing our ATS over its count would come back
        # as the next count (less reservations and safety stock again), a loop that ratchets to 0.
        raise ValidationError(
            {
                "location": [
                    f"{location} is counted by {channel_connection} itself; it already shows that stock. "
                    "Map the channel to locations counted elsewhere (a warehouse, a CSV or another source)."
                ]
            }
        )
    mapping, _ = ChannelLocation.objects.update_or_create(
        channel_connection_id=channel_connection.pk,
        location=location,
        defaults={"channel_location_id": channel_location_id},
    )
    _location_stock_changed(location)
    _audit(
        actor=actor,
        actor_label=actor_label,
        action="inventory.channel_location_set",
        changes={"channel": channel_connection.pk, "location": location.external_id, "as": channel_location_id},
    )
    return mapping


@transaction.atomic
def channel_location_remove(
    *, mapping: ChannelLocation, actor: User | None = None, actor_label: str | None = None
) -> None:
    """Stop pushing this location's stock to the channel (what the channel shows is left as it is)."""
    _audit(
        actor=actor,
        actor_label=actor_label,
        action="inventory.channel_location_removed",
        changes={"channel": mapping.channel_connection_id, "location": mapping.location.external_id},
    )
    mapping.delete()


# ---- the debounce queue --------------------------------------------------------------------


def _location_stock_changed(location: InventoryLocation) -> None:
    """Every SKU the location reports may have moved (its safety stock or channels changed)."""
    skus = InventoryLevel.objects.filter(location=location).values_list("sku", flat=True)
    stock_changed_mark(pairs=[(location.pk, sku) for sku in skus])


def stock_changed_mark(*, pairs: Iterable[tuple[int | None, str]]) -> int:
    """Queue (location, sku) pairs whose ATS may have moved, for the locations some channel sells
    from; schedule one debounced push after commit. Returns how many pairs were queued."""
    wanted = {(location_id, sku) for location_id, sku in pairs if location_id is not None and sku}
    if not wanted:
        return 0
    sold_from = set(
        ChannelLocation.objects.filter(location_id__in={location_id for location_id, _ in wanted}).values_list(
            "location_id", flat=True
        )
    )
    rows = [StockChange(location_id=location_id, sku=sku) for location_id, sku in wanted if location_id in sold_from]
    if not rows:
        return 0
    # A row already queued (or being pushed) gets the new change time, so a push in flight keeps it.
    StockChange.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["location", "sku"], update_fields=["changed_at"]
    )
    inventory_push_schedule()
    return len(rows)
