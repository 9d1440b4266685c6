"""Fulfilment requests and the shipments that answer them (issue 19). Pure commerce writes: the
orchestration (connectors/fulfilment.py) calls the warehouse and the channels and records here
what they said. Every mismatch becomes a triage exception naming the object, with a retry where
a retry makes sense (the names are registered by connectors.fulfilment)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from commerce.documents import CanonicalShipment, CanonicalWarehouseOrder
from commerce.inventory import reservations_held, reservations_sync
from commerce.models import Fulfilment, FulfilmentLine, FulfilmentRequest, Order, OrderLine
from commerce.selectors import quantity_per_order_line
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

log = structlog.get_logger(__name__)

SEND_RETRY = "fulfilment.send"
PUSH_RETRY = "fulfilment.channel_push"
# What a warehouse system's order status means for our request (ShipStation orderStatus values).
WAREHOUSE_REJECTED = {"cancelled"}
WAREHOUSE_HELD = {"on_hold"}


# ---- requests ------------------------------------------------------------------------------


@transaction.atomic
def request_sent(*, request: FulfilmentRequest, external_id: str) -> FulfilmentRequest:
    request.status = FulfilmentRequest.Status.SENT
    request.external_id = str(external_id)[:120]
    request.error = ""
    request.attempts += 1
    request.sent_at = timezone.now()
    request.save(update_fields=["status", "external_id", "error", "attempts", "sent_at", "updated_at"])
    exception_resolve_for_object(obj=request, reason="Accepted by the warehouse")
    return request


@transaction.atomic
def request_rejected(
    *, request: FulfilmentRequest, message: str, permanent: bool, warehouse: str = "The warehouse"
) -> FulfilmentRequest:
    """The warehouse refused the request (or could not be reached): an exception with a retry."""
    request.attempts += 1
    request.error = message[:500]
    fields = ["attempts", "error", "updated_at"]
    if permanent:
        request.status = FulfilmentRequest.Status.REJECTED
        fields.append("status")
    request.save(update_fields=fields)
    exception_raise(
        kind="sync",
        cause="fulfilment_rejected" if permanent else "fulfilment_unsent",
        title=f"{warehouse} rejected the fulfilment request" if permanent else f"{warehouse} could not be reached",
        detail=f"Order {request.order.external_id} from {request.location}: {message}",
        obj=request,
        context={"order": request.order.external_id, "location": request.location_id},
        tags=("fulfilment",),
        retry=RetryAction(SEND_RETRY, {"request_id": request.pk}),
    )
    return request


@transaction.atomic
def request_reset_for_retry(*, request: FulfilmentRequest) -> FulfilmentRequest:
    if request.status == FulfilmentRequest.Status.REJECTED:
        request.status = FulfilmentRequest.Status.WAITING
        request.save(update_fields=["status", "updated_at"])
    return request


@transaction.atomic
def warehouse_order_apply(*, connection_id: int, document: CanonicalWarehouseOrder) -> dict:
    """A warehouse's status of an order we sent: cancelled there → rejected here (with a retry)."""
    request = _request_for(connection_id=connection_id, warehouse_order_id=document.external_id, key=document.order_key)
    record = {"type": "warehouse_order", "external_id": document.external_id, "status": document.status}
    if request is None:
        return {**record, "outcome": "ignored"}
    if not request.external_id:
        request.external_id = document.external_id
        request.save(update_fields=["external_id", "updated_at"])
    if document.status in WAREHOUSE_REJECTED and request.status == FulfilmentRequest.Status.SENT:
        request_rejected(request=request, message=f"The order is {document.status} in the warehouse.", permanent=True)
        return {**record, "id": request.pk, "outcome": "rejected"}
    return {**record, "id": request.pk, "outcome": "unchanged"}


def _request_for(*, connection_id: int | None, warehouse_order_id: str, key: str) -> FulfilmentRequest | None:
    requests = FulfilmentRequest.objects.select_for_update().select_related("order", "location")
    if warehouse_order_id:
        found = requests.filter(fulfilment_connection_id=connection_id, external_id=warehouse_order_id).first()
        if found is not None:
            return found
    if key.startswith("tb-") and key[3:].isdigit():
        return requests.filter(pk=int(key[3:])).first()
    return None


# ---- shipments -----------------------------------------------------------------------------


@dataclass
class ShipmentOutcome:
    fulfilment: Fulfilment | None
    created: bool = False
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)  # line external id -> (asked, shipped)


def _order_for(connection_id: int | None, document: CanonicalShipment) -> tuple[Order, FulfilmentRequest | None]:
    request = _request_for(
        connection_id=connection_id, warehouse_order_id=document.warehouse_order_id, key=document.order_key
    )
    if request is not None:
        return request.order, request
    reference = document.order_reference or document.order_key
    orders = list(Order.objects.filter(external_id=reference).order_by("-placed_at")[:2])
    if len(orders) != 1:
        what = "no order" if not orders else "more than one order"
        raise ValidationError(
            {"order_id": [f"Shipment {document.external_id} names {reference!r}: {what} has that id."]}
        )
    order = orders[0]
    return order, order.fulfilment_requests.exclude(status=FulfilmentRequest.Status.CANCELLED).first()


def _lines_match(order: Order, document: CanonicalShipment) -> dict[int, int]:
    """Order line id -> quantity shipped in this shipment (by echoed line key, else by SKU)."""
    lines = list(order.lines.all())
    by_external = {line.external_id: line for line in lines}
    by_sku: dict[str, list[OrderLine]] = defaultdict(list)
    for line in lines:
        by_sku[line.sku].append(line)
    shipped: dict[int, int] = defaultdict(int)
    for index, doc in enumerate(document.lines):
        line = by_external.get(doc.line_external_id) if doc.line_external_id else None
        if line is None and by_sku.get(doc.sku):
            line = by_sku[doc.sku][0]
        if line is None:
            raise ValidationError(
                {f"lines[{index}].sku": [f"Order {order.external_id} has no line with SKU {doc.sku!r}."]}
            )
        if doc.quantity <= 0:
            raise ValidationError({f"lines[{index}].quantity": [f"{doc.quantity!r} must be positive."]})
        shipped[line.pk] += doc.quantity
    return dict(shipped)


def _mismatches(request: FulfilmentRequest) -> dict[str, tuple[int, int]]:
    shipped = quantity_per_order_line(rows=FulfilmentLine.objects.filter(fulfilment__request=request))
    asked = {int(line["line"]): int(line["quantity"]) for line in request.lines}
    keys = {line["line"]: line.get("external_id") or line.get("sku") for line in request.lines}
    differences = {}
    for line_id in sorted(set(asked) | set(shipped)):
        if asked.get(line_id, 0) != shipped.get(line_id, 0):
            label = keys.get(line_id) or str(line_id)
            differences[str(label)] = (asked.get(line_id, 0), shipped.get(line_id, 0))
    return differences


def _order_fulfilled_mark(order: Order, shipped_at: dt.datetime) -> None:
    shipped = quantity_per_order_line(rows=FulfilmentLine.objects.filter(fulfilment__order=order))
    if order.fulfilled_at is None and all(
        shipped.get(line.pk, 0) >= line.quantity for line in order.lines.all() if line.sku
    ):
        held = reservations_held(order=order)
        Order.objects.filter(pk=order.pk).update(fulfilled_at=shipped_at)
        order.fulfilled_at = shipped_at
        reservations_sync(order=order, previously_held=held)


@transaction.atomic
def shipment_record(*, connection_id: int | None, document: CanonicalShipment) -> ShipmentOutcome:
    """Store a warehouse shipment as a Fulfilment (idempotent on the shipment id), close its request
    when everything asked has shipped, and raise a mismatch when the quantities differ."""
    order, request = _order_for(connection_id, document)
    existing = Fulfilment.objects.filter(
        order=order, source_connection_id=connection_id, external_id=document.external_id, origin="warehouse"
    ).first()
    if document.voided:
        return ShipmentOutcome(fulfilment=existing)
    shipped = _lines_match(order, document)
    created = existing is None
    fulfilment = existing or Fulfilment(order=order, external_id=document.external_id, origin="warehouse")
    fulfilment.source_connection_id = connection_id
    fulfilment.request = request
    fulfilment.fulfilled_at = document.shipped_at
    fulfilment.location = request.location.external_id[:80] if request else ""
    fulfilment.carrier, fulfilment.service = document.carrier[:80], document.service[:80]
    fulfilment.tracking_number, fulfilment.tracking_url = document.tracking_number[:120], document.tracking_url[:500]
    fulfilment.raw_event_id = document.raw_event_id
    fulfilment.save()
    fulfilment.lines.all().delete()
    FulfilmentLine.objects.bulk_create(
        FulfilmentLine(fulfilment=fulfilment, order_line_id=line_id, quantity=quantity)
        for line_id, quantity in shipped.items()
    )
    mismatches = _mismatches(request) if request is not None else {}
    if request is not None:
        _request_after_shipment(request, fulfilment, mismatches)
    _order_fulfilled_mark(order, document.shipped_at)
    log.info("commerce.shipment_recorded", fulfilment_id=fulfilment.pk, created=created, mismatches=len(mismatches))
    return ShipmentOutcome(fulfilment=fulfilment, created=created, mismatches=mismatches)


def _request_after_shipment(request: FulfilmentRequest, fulfilment: Fulfilment, mismatches: dict) -> None:
    request.status = FulfilmentRequest.Status.SHIPPED
    request.shipped_at = request.shipped_at or fulfilment.fulfilled_at
    request.save(update_fields=["status", "shipped_at", "updated_at"])
    if not mismatches:
        exception_resolve_for_object(obj=request, reason="Shipped as asked")
        return
    described = "; ".join(f"{key}: asked {asked}, shipped {got}" for key, (asked, got) in mismatches.items())
    exception_raise(
        kind="reconciliation",
        cause="fulfilment_quantity_mismatch",
        title="Shipped quantity differs from the order",
        detail=f"Order {request.order.external_id}, shipment {fulfilment.external_id}: {described}.",
        obj=request,
        context={"mismatches": {key: list(value) for key, value in mismatches.items()}},
        tags=("fulfilment",),
    )


# ---- the channel ---------------------------------------------------------------------------


@transaction.atomic
def fulfilment_channel_result(
    *, fulfilment: Fulfilment, reference: str = "", acknowledged: bool, error: str = "", channel: str = "The channel"
) -> Fulfilment:
    """What the order's channel said after the push and the read-back."""
    now = timezone.now()
    fulfilment.pushed_at = fulfilment.pushed_at or now
    if reference:
        fulfilment.channel_reference = reference[:120]
    if acknowledged:
        fulfilment.channel_status = Fulfilment.ChannelStatus.ACKNOWLEDGED
        fulfilment.acknowledged_at = now
        fulfilment.channel_error = ""
    else:
        fulfilment.channel_status = Fulfilment.ChannelStatus.FAILED
        fulfilment.channel_error = error[:500]
    fulfilment.save()
    if acknowledged:
        exception_resolve_for_object(obj=fulfilment, reason="Acknowledged by the channel")
        return fulfilment
    exception_raise(
        kind="sync",
        cause="fulfilment_not_acknowledged",
        title=f"{channel} did not acknowledge a fulfilment",
        detail=f"Order {fulfilment.order.external_id}, shipment {fulfilment.external_id}: {error}",
        obj=fulfilment,
        context={"order": fulfilment.order.external_id, "tracking": fulfilment.tracking_number},
        tags=("fulfilment",),
        retry=RetryAction(PUSH_RETRY, {"fulfilment_id": fulfilment.pk}),
    )
    return fulfilment
