"""Demo fulfilment for `seed_demo`: a ShipStation connection whose answers are recorded (no call
leaves the portal), two routing rules, and orders in every fulfilment state — waiting, sent to the
warehouse, shipped, acknowledged by the channel, backordered and rejected by the warehouse —
through the real services. Idempotent: fixed order ids and versions, recorded shipment ids.

It orchestrates connectors (the connection, the recorded events), so it belongs with the demo
orchestration (portal/demo/); it lives here until the demo package is in place."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.utils import timezone

from commerce.documents import CanonicalOrder, OrderLineDoc
from commerce.fulfilment import fulfilment_channel_result, request_rejected, request_sent
from commerce.models import Fulfilment, FulfilmentRequest, InventoryLocation, Order, RoutingRule
from commerce.routing import order_route, routing_rule_create
from commerce.services import order_upsert
from connectors.inbox import event_process, event_store
from connectors.models import Connection
from connectors.services import connection_create
from portal.demo.commerce import inventory_demo_seed

SOURCE = "demo-fulfilment"
CONNECTION_NAME = "Warehouse (ShipStation, recorded)"
# id, lines (sku, quantity), state, hours from paid to shipped
ORDERS = [
    ("F-1001", (("TEE-BLK", 2),), "waiting", None),
    ("F-1002", (("HOOD-GRY", 1), ("CAP-NVY", 1)), "sent", None),
    ("F-1003", (("SOCK-3PK", 3),), "shipped", 20),
    ("F-1004", (("TEE-BLK", 1), ("SOCK-3PK", 1)), "acknowledged", 9),
    ("F-1005", (("CAP-NVY", 2),), "acknowledged", 30),
    ("F-1006", (("BOOT-BRN", 40),), "backorder", None),
    ("F-1007", (("HOOD-GRY", 2),), "rejected", None),
]


def _connection() -> Connection:
    existing = Connection.objects.filter(vendor=Connection.Vendor.SHIPSTATION, name=CONNECTION_NAME).first()
    if existing is not None:
        return existing
    return connection_create(
        vendor=Connection.Vendor.SHIPSTATION,
        name=CONNECTION_NAME,
        config={"store_id": "310553", "warehouse_id": "24079", "simulated": True},
        credentials={"api_key": "demo-key", "api_secret": "demo-secret"},
        actor_label="seed_demo",
    )


def _rules(connection: Connection) -> None:
    if RoutingRule.objects.exists():
        return
    warehouse = InventoryLocation.objects.get(source="demo-stock", external_id="WH-EAST")
    store = InventoryLocation.objects.get(source="demo-stock", external_id="STORE-SOHO")
    routing_rule_create(
        name="US orders from the East warehouse",
        location_id=warehouse.pk,
        priority=10,
        countries=["US"],
        fulfilment_connection_id=connection.pk,
    )
    routing_rule_create(name="Overflow from the Soho store", location_id=store.pk, priority=20, countries=["US"])


def _order(external_id: str, lines: tuple[tuple[str, int], ...], currency: str, paid_at: dt.datetime) -> Order:
    document = CanonicalOrder(
        external_id=external_id,
        source_version=1,
        currency=currency,
        channel="web",
        placed_at=paid_at - dt.timedelta(minutes=3),
        paid_at=paid_at,
        lines=tuple(
            OrderLineDoc(f"{external_id}-L{index}", sku, quantity, Decimal("20.00"), title=sku)
            for index, (sku, quantity) in enumerate(lines, start=1)
        ),
        ship_country="US",
        ship_region="NY",
    )
    return order_upsert(source=SOURCE, connection_id=None, document=document).obj


def _ship(connection: Connection, request: FulfilmentRequest, hours: int) -> None:
    """Replay a recorded ShipStation shipment for the request through the inbox."""
    shipped = request.order.paid_at + dt.timedelta(hours=hours)
    shipment = {
        "shipmentId": 90000000 + request.order.pk,
        "orderId": request.external_id,
        "orderKey": request.order_key,
        "orderNumber": request.order.external_id,
        "createDate": shipped.isoformat(),
        "shipDate": shipped.isoformat(),
        "trackingNumber": f"1Z999AA1{request.order.pk:010d}",
        "carrierCode": "ups",
        "serviceCode": "ups_ground",
        "voided": False,
        "shipmentItems": [
            {"lineItemKey": line["external_id"], "sku": line["sku"], "quantity": line["quantity"]}
            for line in request.lines
        ],
    }
    event, _ = event_store(
        connection=connection,
        topic="shipments",
        external_id=str(shipment["shipmentId"]),
        body=json.dumps(shipment).encode(),
        source="poll",
        dispatch=False,
    )
    event_process(event_id=event.pk)


def _advance(connection: Connection, order: Order, state: str, hours: int | None) -> None:
    result = order_route(order=order)
    for request in result.requests:
        if state == "rejected" and request.status == FulfilmentRequest.Status.WAITING:
            message = "The request is invalid: apiOrder.shipTo.street1 is required (recorded answer)."
            request_rejected(request=request, message=message, permanent=True, warehouse="ShipStation")
        elif state in ("sent", "shipped", "acknowledged") and request.status == FulfilmentRequest.Status.WAITING:
            request_sent(request=request, external_id=f"DEMO-SS-{180000000 + request.pk}")
        if state in ("shipped", "acknowledged") and hours is not None:
            _ship(connection, FulfilmentRequest.objects.select_related("order").get(pk=request.pk), hours)
    if state == "acknowledged":
        for fulfilment in Fulfilment.objects.filter(order=order, origin=Fulfilment.Origin.WAREHOUSE):
            if fulfilment.channel_status != Fulfilment.ChannelStatus.ACKNOWLEDGED:
                fulfilment_channel_result(fulfilment=fulfilment, reference=f"demo-{fulfilment.pk}", acknowledged=True)


def fulfilment_demo_seed(*, currency: str = "USD") -> str:
    """Create or refresh the demo fulfilment flow in the current tenant schema."""
    if not InventoryLocation.objects.filter(source="demo-stock", external_id="WH-EAST").exists():
        inventory_demo_seed(currency=currency)
    connection = _connection()
    _rules(connection)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for index, (external_id, lines, state, hours) in enumerate(ORDERS):
        order = _order(external_id, lines, currency, now - dt.timedelta(days=3, hours=index * 5))
        _advance(connection, order, state, hours)
    return f"{len(ORDERS)} orders across the fulfilment board"
