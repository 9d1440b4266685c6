"""Pure translations between ShipStation V1 objects and canonical documents (no I/O, no queries).

Shapes follow the V1 reference (https://docs.shipstation.com/apis/shipstation-v1/): Shipment
(`shipmentId`, `orderId`, `orderKey`, `orderNumber`, `shipDate`, `carrierCode`, `serviceCode`,
`trackingNumber`, `voided`, `shipmentItems[]` with `lineItemKey`, `sku`, `quantity`), Order
(`orderId`, `orderKey`, `orderStatus`) and the createorder request. V1 timestamps have no offset:
they are Pacific time (America/Los_Angeles), as the reference states."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

from commerce.documents import (
    CanonicalShipment,
    CanonicalWarehouseOrder,
    FulfilmentRequestDoc,
    ShipmentLineDoc,
    ShipToDoc,
)
from connectors.vendors.base import NormaliseError

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "stamps_com": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "dhl_express": "https://www.dhl.com/en/express/tracking.html?AWB={}",
}
CARRIER_NAMES = {
    "ups": "UPS",
    "fedex": "FedEx",
    "usps": "USPS",
    "stamps_com": "USPS",
    "dhl_express": "DHL Express",
}


def ss_datetime(value: Any, *, field: str) -> dt.datetime:
    """`2026-11-30T09:15:02.1230000` or `2026-11-30` (Pacific time) → an aware datetime."""
    if not isinstance(value, str) or not value:
        raise NormaliseError(f"{field}: {value!r} is not a date.")
    text = value.replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise NormaliseError(f"{field}: {value!r} is not an ISO 8601 date.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=PACIFIC)


def _quantity(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise NormaliseError(f"{field}: {value!r} is not a positive whole quantity.")
    return value


def shipment_normalise(shipment: Mapping[str, Any]) -> CanonicalShipment:
    if not isinstance(shipment, Mapping) or shipment.get("shipmentId") in (None, ""):
        raise NormaliseError("shipmentId: the shipment has no id.")
    items = shipment.get("shipmentItems")
    if not isinstance(items, list):
        raise NormaliseError("shipmentItems: the shipment was fetched without its items.")
    lines = tuple(
        ShipmentLineDoc(
            sku=str(item.get("sku") or ""),
            quantity=_quantity(item.get("quantity"), field=f"shipmentItems[{index}].quantity"),
            line_external_id=str(item.get("lineItemKey") or ""),
        )
        for index, item in enumerate(items)
    )
    carrier = str(shipment.get("carrierCode") or "")
    tracking = str(shipment.get("trackingNumber") or "")
    template = TRACKING_URLS.get(carrier)
    return CanonicalShipment(
        external_id=str(shipment["shipmentId"]),
        shipped_at=ss_datetime(shipment.get("shipDate") or shipment.get("createDate"), field="shipDate"),
        lines=lines,
        warehouse_order_id=str(shipment.get("orderId") or ""),
        order_key=str(shipment.get("orderKey") or ""),
        order_reference=str(shipment.get("orderNumber") or ""),
        carrier=CARRIER_NAMES.get(carrier, carrier),
        service=str(shipment.get("serviceCode") or ""),
        tracking_number=tracking,
        tracking_url=template.format(tracking) if template and tracking else "",
        voided=bool(shipment.get("voided")),
    )


def warehouse_order_normalise(order: Mapping[str, Any]) -> CanonicalWarehouseOrder:
    if not isinstance(order, Mapping) or order.get("orderId") in (None, ""):
        raise NormaliseError("orderId: the order has no id.")
    return CanonicalWarehouseOrder(
        external_id=str(order["orderId"]),
        order_key=str(order.get("orderKey") or ""),
        status=str(order.get("orderStatus") or ""),
    )


def _pacific(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(PACIFIC).replace(tzinfo=None).isoformat(timespec="seconds") if moment else None


def _address(ship_to: ShipToDoc, *, name: str) -> dict[str, Any]:
    """A V1 Address model (blank fields as null, as ShipStation's own answers show them)."""
    fields = {
        "name": name,
        "company": ship_to.company,
        "street1": ship_to.street1,
        "street2": ship_to.street2,
        "city": ship_to.city,
        "state": ship_to.state,
        "postalCode": ship_to.postal_code,
        "country": ship_to.country,
        "phone": ship_to.phone,
    }
    return {key: value or None for key, value in fields.items()}


def createorder_payload(
    request: FulfilmentRequestDoc, *, store_id: int | None = None, warehouse_id: int | None = None
) -> dict[str, Any]:
    """The `POST /orders/createorder` body for a fulfilment request. `orderKey` is ours, so sending
    again updates the same ShipStation order instead of creating a second one."""
    name = request.customer_ref or f"Order {request.order_number}"
    address = {"name": name, "country": request.ship_country or None, "state": request.ship_region or None}
    ship_to, bill_to = address, address
    if request.ship_to is not None:  # the order's full address, from its raw vendor event
        ship_to = _address(request.ship_to, name=request.ship_to.name or name)
        bill_to = {"name": ship_to["name"]}
    advanced: dict[str, Any] = {"customField1": f"tillbridge:{request.order_key}", "source": "Tillbridge"}
    if store_id:
        advanced["storeId"] = store_id
    if warehouse_id:
        advanced["warehouseId"] = warehouse_id
    return {
        "orderNumber": request.order_number,
        "orderKey": request.order_key,
        "orderDate": _pacific(request.placed_at),
        "paymentDate": _pacific(request.paid_at),
        "orderStatus": "awaiting_shipment",
        "customerUsername": request.customer_ref or None,
        "billTo": dict(bill_to),
        "shipTo": dict(ship_to),
        "items": [
            {
                "lineItemKey": line.line_external_id,
                "sku": line.sku,
                "name": line.title or line.sku,
                "quantity": line.quantity,
                "unitPrice": float(line.unit_price),
            }
            for line in request.lines
        ],
        "advancedOptions": advanced,
    }
