"""Fulfilment orchestration (issue 19): route paid orders, send each fulfilment request to its
location's warehouse system, turn the shipments that come back into Fulfilments, push them to the
order's sales channel and read them back.

    paid order ──(periodic job / retry)──► commerce.routing.order_route ──► FulfilmentRequest(s)
        ──on_commit──► request_send: the warehouse adapter's `request_send` (ShipStation createorder)
    SHIP_NOTIFY / poll / CSV ship confirmation ──► inbox ──► shipment_apply ──► Fulfilment
        ──on_commit──► fulfilment_channel_push: the channel writer, then its read-back

Network calls happen outside database transactions; each result is recorded by a commerce
service, and every failure is a triage exception with a retry registered here."""

from __future__ import annotations

import dataclasses
import json
from types import ModuleType
from typing import Any

import structlog
from django.db import transaction

from commerce.documents import CanonicalShipment, CanonicalWarehouseOrder, FulfilmentRequestDoc, ShipToDoc
from commerce.fulfilment import (
    fulfilment_channel_result,
    request_rejected,
    request_reset_for_retry,
    request_sent,
    shipment_record,
    warehouse_order_apply,
)
from commerce.fulfilment_selectors import (
    channel_fulfilment_document,
    fulfilment_request_document,
    waiting_requests,
)
from commerce.models import Fulfilment, FulfilmentRequest, Order
from commerce.routing import order_route, orders_to_route
from connectors.inbox import document_applier_register
from connectors.models import Connection
from connectors.selectors import event_body_get
from connectors.vendors import adapters
from connectors.vendors.base import NormaliseError
from connectors.vendors.shopify import fulfilment as shopify_fulfilment
from connectors.vendors.square import fulfilment as square_fulfilment
from connectors.vendors.woocommerce import fulfilment as woocommerce_fulfilment
from core.http.client import ConnectorError, RequestRejected
from core.tasks import task_named
from posting import services as posting
from posting.models import PostingPolicy
from tenants.webhooks import tenant_event_emit
from triage.retry import retry_action

log = structlog.get_logger(__name__)

MAX_SEND_ATTEMPTS = 5
# The channel writers, by the order's source vendor: `fulfilment_push` and `fulfilment_read_back`.
CHANNEL_WRITERS: dict[str, ModuleType] = {
    Connection.Vendor.SHOPIFY: shopify_fulfilment,
    Connection.Vendor.WOOCOMMERCE: woocommerce_fulfilment,
    Connection.Vendor.SQUARE: square_fulfilment,
}


class FulfilmentRetryFailed(Exception):
    pass


def _after_commit(func, **kwargs: Any) -> None:
    """Dispatch a task once the data it needs is committed; a broker outage leaves the work for
    the periodic job (requests) or the retry in triage (pushes)."""

    def send() -> None:
        try:
            task_named(f"connectors.{func}").apply_async(kwargs=kwargs, retry=False)
        except Exception:  # broker down
            log.warning("connectors.fulfilment_dispatch_failed", task=func, exc_info=True)

    transaction.on_commit(send)


# ---- routing and sending -------------------------------------------------------------------


def orders_route_and_send() -> int:
    """The periodic job: route what waits, send what is routed. Returns the requests sent."""
    for order_id in orders_to_route():
        order_route(order=Order.objects.get(pk=order_id))
    sent = 0
    for request_id in waiting_requests(max_attempts=MAX_SEND_ATTEMPTS):
        request = request_send(request_id=request_id)
        sent += request is not None and request.status == FulfilmentRequest.Status.SENT
    return sent


def request_send(*, request_id: int) -> FulfilmentRequest | None:
    """Send one waiting request to its warehouse system (idempotent: ShipStation's orderKey)."""
    request = FulfilmentRequest.objects.select_related("order", "location").filter(pk=request_id).first()
    if request is None or request.status != FulfilmentRequest.Status.WAITING:
        return request
    connection = Connection.objects.filter(pk=request.fulfilment_connection_id).first()
    adapter = adapters().get(connection.vendor) if connection is not None else None
    if connection is None or not hasattr(adapter, "request_send"):
        return request_rejected(
            request=request, message="The routing rule names no warehouse system that takes orders.", permanent=True
        )
    if connection.config.get("simulated"):
        return request  # a demo connection with recorded answers: nothing is sent anywhere
    warehouse = connection.get_vendor_display()
    try:
        external_id = adapter.request_send(connection=connection, request=_request_document(request))
    except (RequestRejected, NormaliseError) as error:
        return request_rejected(request=request, message=_message(error), permanent=True, warehouse=warehouse)
    except ConnectorError as error:
        return request_rejected(request=request, message=error.message, permanent=False, warehouse=warehouse)
    return request_sent(request=request, external_id=external_id)


def _request_document(request: FulfilmentRequest) -> FulfilmentRequestDoc:
    """The request as commerce builds it, with the order's full shipping address read from the
    raw vendor event the order came from."""
    return dataclasses.replace(fulfilment_request_document(request=request), ship_to=_order_ship_to(request.order))


def _order_ship_to(order: Order) -> ShipToDoc | None:
    """The address in the order's raw event, by its source vendor's adapter. None when there is no
    event, its body is not JSON or it carries no address: the warehouse then refuses the request,
    which is an exception with a retry like any other refusal."""
    event = event_body_get(event_id=order.raw_event_id)
    adapter = adapters().get(order.source)
    if event is None or adapter is None:
        return None
    topic, body = event
    try:
        payload = json.loads(body)
    except ValueError:
        log.warning("connectors.fulfilment_event_unreadable", order=order.pk, raw_event=order.raw_event_id)
        return None
    try:
        return adapter.ship_to(topic=topic, payload=payload)
    except (NormaliseError, LookupError, TypeError, ValueError, AttributeError):
        log.warning("connectors.fulfilment_address_unreadable", order=order.pk, exc_info=True)
        return None


def _message(error: Exception) -> str:
    return getattr(error, "message", "") or str(error)


# ---- shipments back ------------------------------------------------------------------------


def shipment_apply(*, connection: Connection, document: CanonicalShipment) -> dict[str, Any]:
    """The inbox's applier for warehouse shipments (inside the event's transaction)."""
    outcome = shipment_record(connection_id=connection.pk, document=document)
    fulfilment = outcome.fulfilment
    record: dict[str, Any] = {"type": "shipment", "external_id": document.external_id}
    if fulfilment is None:
        return {**record, "outcome": "ignored"}
    record.update(id=fulfilment.pk, outcome="created" if outcome.created else "updated")
    if outcome.mismatches:
        record["mismatches"] = {key: list(value) for key, value in outcome.mismatches.items()}
    order = fulfilment.order
    if order.fulfilled_at is not None and posting.policy_get().recognise_on == PostingPolicy.Recognise.FULFILLED:
        # The warehouse shipped the last line: a tenant that recognises revenue on fulfilment posts
        # the order now (a tenant that recognises on payment posted it when it was paid).
        posted = posting.journal_post_order(order=order)
        record.update(posting=posted.status.value, journal_id=posted.entry.pk if posted.entry else None)
    if outcome.created:
        tenant_event_emit(event="fulfilment.shipped", payload=_event_payload(fulfilment))
    if fulfilment.channel_status != Fulfilment.ChannelStatus.ACKNOWLEDGED:
        _after_commit("fulfilment_channel_push", fulfilment_id=fulfilment.pk)
    return record


def warehouse_order_applier(*, connection: Connection, document: CanonicalWarehouseOrder) -> dict[str, Any]:
    return warehouse_order_apply(connection_id=connection.pk, document=document)


def _event_payload(fulfilment: Fulfilment) -> dict[str, Any]:
    return {
        "fulfilment": fulfilment.pk,
        "order": fulfilment.order.external_id,
        "carrier": fulfilment.carrier,
        "tracking_number": fulfilment.tracking_number,
        "channel_status": fulfilment.channel_status,
    }


# ---- the channel ---------------------------------------------------------------------------


def fulfilment_channel_push(*, fulfilment_id: int) -> Fulfilment | None:
    """Push a warehouse fulfilment to the order's channel and read it back."""
    fulfilment = Fulfilment.objects.select_related("order").filter(pk=fulfilment_id, origin="warehouse").first()
    if fulfilment is None or fulfilment.channel_status == Fulfilment.ChannelStatus.ACKNOWLEDGED:
        return fulfilment
    channel = Connection.objects.filter(pk=fulfilment.order.source_connection_id).first()
    writer = CHANNEL_WRITERS.get(channel.vendor) if channel is not None else None
    if writer is None:
        return fulfilment  # a channel nobody tells (a CSV source): nothing to acknowledge
    doc = channel_fulfilment_document(fulfilment=fulfilment)
    reference = doc.reference
    name = channel.get_vendor_display()
    try:
        with adapters()[channel.vendor].client(channel) as client:
            if not reference:
                reference = writer.fulfilment_push(client=client, doc=doc)
                Fulfilment.objects.filter(pk=fulfilment.pk).update(channel_reference=reference[:120])
            acknowledged, problem = writer.fulfilment_read_back(client=client, doc=doc, reference=reference)
    except (ConnectorError, ValueError, LookupError) as error:
        acknowledged, problem = False, _message(error)
    fulfilment = fulfilment_channel_result(
        fulfilment=fulfilment, reference=reference, acknowledged=acknowledged, error=problem, channel=name
    )
    if acknowledged:
        tenant_event_emit(event="fulfilment.acknowledged", payload=_event_payload(fulfilment))
    return fulfilment


# ---- retries (triage) ----------------------------------------------------------------------


@retry_action("fulfilment.route")
def _retry_route(order_id: int) -> None:
    result = order_route(order=Order.objects.get(pk=order_id))
    if not result.requests:
        raise FulfilmentRetryFailed(f"The order is still not routed ({result.reason}).")
    for request in result.requests:
        request_send(request_id=request.pk)


@retry_action("fulfilment.send")
def _retry_send(request_id: int) -> None:
    request_reset_for_retry(request=FulfilmentRequest.objects.get(pk=request_id))
    request = request_send(request_id=request_id)
    if request is None or request.status != FulfilmentRequest.Status.SENT:
        raise FulfilmentRetryFailed(request.error if request else "The request is gone.")


@retry_action("fulfilment.channel_push")
def _retry_push(fulfilment_id: int) -> None:
    fulfilment = fulfilment_channel_push(fulfilment_id=fulfilment_id)
    if fulfilment is None or fulfilment.channel_status != Fulfilment.ChannelStatus.ACKNOWLEDGED:
        raise FulfilmentRetryFailed(fulfilment.channel_error if fulfilment else "The fulfilment is gone.")


document_applier_register(CanonicalShipment, shipment_apply)
document_applier_register(CanonicalWarehouseOrder, warehouse_order_applier)
