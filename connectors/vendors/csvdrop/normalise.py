"""CSV file drop: orders, payouts, inventory and ship confirmations (docs/connectors-csv.md).

A file is split into one record per order (or payout) — its rows as JSON — and each record is
stored as an inbound event and processed exactly like a webhook, so re-uploading the same file
is a no-op and a corrected row re-posts only its own order."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from commerce import documents as docs
from commerce.documents import (
    CanonicalShipment,
    ShipmentLineDoc,
)
from connectors.vendors.base import Document, NormaliseError, Record
from connectors.vendors.common import body, currency_code, line_level_total, money, timestamp, version

ORDER_COLUMNS = {
    "required": ("order_id", "placed_at", "currency", "line_id", "quantity", "unit_price"),
    "optional": (
        "order_version",
        "paid_at",
        "channel",
        "taxes_included",
        "sku",
        "title",
        "category",
        "line_discount",
        "discount_code",
        "tax_jurisdiction",
        "tax_rate",
        "tax_amount",
        "shipping",
        "shipping_tax_jurisdiction",
        "shipping_tax_rate",
        "shipping_tax",
        "payment_gateway",
        "payment_method",
        "order_total",
    ),
}
PAYOUT_COLUMNS = {
    "required": ("payout_id", "arrival_date", "currency", "payout_amount", "gateway", "line_type", "line_amount"),
    "optional": ("payout_version", "line_fee", "reference", "description"),
}
INVENTORY_COLUMNS = {
    "required": ("sku", "location", "on_hand"),
    "optional": ("location_name", "counted_at"),
}
# Ship confirmations from a warehouse without an API: one record per parcel (order and tracking).
SHIPMENT_COLUMNS = {
    "required": ("order_id", "sku", "quantity", "carrier", "tracking"),
    "optional": ("shipped_at", "shipment_id", "tracking_url", "line_id"),
}
# The column(s) that make one record: an order, a payout, one SKU at one location, a parcel.
TOPICS = {
    "orders": (("order_id",), ORDER_COLUMNS),
    "payouts": (("payout_id",), PAYOUT_COLUMNS),
    "inventory": (("location", "sku"), INVENTORY_COLUMNS),
    "shipments": (("order_id", "tracking"), SHIPMENT_COLUMNS),
}
# A count or a parcel without its own time is as of the upload.
TIME_COLUMN = {"inventory": "counted_at", "shipments": "shipped_at"}
MAX_ROWS = 100_000
TRUE = {"1", "true", "yes", "y"}


def csv_records(*, content: bytes, topic: str) -> list[Record]:
    """Split a CSV file into records; a file that is not the documented format is a ValidationError."""
    if topic not in TOPICS:
        raise ValidationError({"topic": [f"CSV files hold orders, payouts, inventory or shipments, not {topic!r}."]})
    key, columns = TOPICS[topic]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": ["The file is not UTF-8 text."]}) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in columns["required"] if name not in header]
    if missing:
        raise ValidationError({"file": [f"Missing column(s): {', '.join(missing)}."]})
    unknown = [name for name in header if name not in columns["required"] + columns["optional"]]
    if unknown:
        raise ValidationError({"file": [f"Unknown column(s): {', '.join(unknown)}."]})
    groups: dict[str, list[dict[str, str]]] = {}
    # A count without its own time is as of the upload: a later file supersedes an earlier one.
    uploaded_at = dt.datetime.now(tz=dt.UTC).isoformat()
    for number, row in enumerate(reader, start=2):
        if number > MAX_ROWS + 1:
            raise ValidationError({"file": [f"Files are limited to {MAX_ROWS} rows."]})
        clean = {name.strip(): (value or "").strip() for name, value in row.items() if name}
        for name in key:
            if not clean.get(name):
                raise ValidationError({"file": [f"Row {number} has no {name}."]})
        clean["_row"] = str(number)
        stamp = TIME_COLUMN.get(topic)
        if stamp and not clean.get(stamp):
            clean[stamp] = uploaded_at
        groups.setdefault(":".join(clean[name] for name in key), []).append(clean)
    if not groups:
        raise ValidationError({"file": ["The file has no rows."]})
    return [Record(topic, external_id, body({"rows": rows})) for external_id, rows in groups.items()]


def _decimal(row: Mapping[str, str], name: str, *, default: str | None = None) -> Decimal:
    value = row.get(name) or default
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        raise NormaliseError(f"Row {row.get('_row')}: {name} {value!r} is not a number.") from None


def _line(row: Mapping[str, str], currency: str) -> tuple[docs.OrderLineDoc, docs.DiscountDoc | None]:
    """One row's line and its discount (None without one)."""
    where = f"Row {row['_row']}"
    try:
        quantity = int(row.get("quantity") or "")
    except ValueError:
        raise NormaliseError(f"{where}: quantity {row.get('quantity')!r} is not a whole number.") from None
    if quantity <= 0:
        raise NormaliseError(f"{where}: quantity must be positive.")
    taxes = ()
    if row.get("tax_amount"):
        taxes = (
            docs.TaxLineDoc(
                jurisdiction=row.get("tax_jurisdiction") or "tax",
                rate=_decimal(row, "tax_rate", default="0"),
                amount=money(row["tax_amount"], currency, field=f"{where} tax_amount"),
            ),
        )
    line = docs.OrderLineDoc(
        external_id=row["line_id"],
        sku=row.get("sku", "")[:120],
        quantity=quantity,
        unit_price=money(row.get("unit_price"), currency, field=f"{where} unit_price"),
        product_category=row.get("category", "")[:80],
        title=row.get("title", "")[:255],
        taxes=taxes,
    )
    amount = money(row["line_discount"], currency, field=f"{where} line_discount") if row.get("line_discount") else 0
    if not amount:
        return line, None
    return line, docs.DiscountDoc(
        amount=amount, code=row.get("discount_code", "")[:80], line_external_id=row["line_id"]
    )


def _shipping(first: Mapping[str, str], currency: str) -> list[docs.ShippingLineDoc]:
    """The order's shipping, from its first row."""
    if not first.get("shipping"):
        return []
    shipping_taxes = ()
    if first.get("shipping_tax"):
        shipping_taxes = (
            docs.TaxLineDoc(
                first.get("shipping_tax_jurisdiction") or "tax",
                _decimal(first, "shipping_tax_rate", default="0"),
                money(first["shipping_tax"], currency, field="shipping_tax"),
            ),
        )
    return [
        docs.ShippingLineDoc("shipping", money(first["shipping"], currency, field="shipping"), taxes=shipping_taxes)
    ]


def order_normalise(rows: list[Mapping[str, str]]) -> docs.CanonicalOrder:
    first = rows[0]
    currency = currency_code(first.get("currency"))
    included = (first.get("taxes_included") or "").lower() in TRUE
    lines, discounts = [], []
    for row in rows:
        line, discount = _line(row, currency)
        lines.append(line)
        if discount is not None:
            discounts.append(discount)
    shipping = _shipping(first, currency)
    placed_at = timestamp(first.get("placed_at"), field="placed_at")
    paid_at = timestamp(first["paid_at"], field="paid_at") if first.get("paid_at") else None
    try:
        order_version = int(first.get("order_version") or 1)
    except ValueError:
        raise NormaliseError(f"order_version {first.get('order_version')!r} is not a whole number.") from None
    document = docs.CanonicalOrder(
        external_id=first["order_id"],
        source_version=order_version,
        currency=currency,
        placed_at=placed_at,
        paid_at=paid_at,
        channel=first.get("channel", "")[:60] or "csv",
        taxes_included=included,
        lines=tuple(lines),
        discounts=tuple(discounts),
        shipping_lines=tuple(shipping),
        vendor_total=money(first["order_total"], currency, field="order_total") if first.get("order_total") else None,
    )
    if paid_at is None:
        return document
    payment = docs.PaymentDoc(
        external_id=f"{document.external_id}:payment",
        gateway=first.get("payment_gateway") or "manual",
        amount=line_level_total(document),
        method=first.get("payment_method", "")[:60],
    )
    return replace(document, payments=(payment,))


def payout_normalise(rows: list[Mapping[str, str]]) -> docs.CanonicalPayout:
    first = rows[0]
    currency = currency_code(first.get("currency"))
    try:
        arrival = dt.date.fromisoformat(first.get("arrival_date") or "")
    except ValueError:
        raise NormaliseError(f"arrival_date {first.get('arrival_date')!r} is not a date (YYYY-MM-DD).") from None
    lines = [
        docs.PayoutLineDoc(
            type=row["line_type"],
            amount=money(row["line_amount"], currency, field=f"Row {row['_row']} line_amount"),
            fee=money(row.get("line_fee") or "0", currency, field=f"Row {row['_row']} line_fee"),
            reference=row.get("reference", "")[:120],
            description=row.get("description", "")[:255],
        )
        for row in rows
    ]
    return docs.CanonicalPayout(
        external_id=first["payout_id"],
        source_version=int(first.get("payout_version") or 1),
        currency=currency,
        arrival_date=arrival,
        amount=money(first["payout_amount"], currency, field="payout_amount"),
        gateway=first["gateway"][:60],
        lines=tuple(lines),
    )


def inventory_normalise(rows: list[Mapping[str, str]]) -> docs.CanonicalInventoryLevel:
    """One SKU at one location: `on_hand` a whole or decimal count, `counted_at` ISO 8601 with zone."""
    if len(rows) > 1:
        numbers = ", ".join(row.get("_row", "?") for row in rows)
        raise NormaliseError(f"Rows {numbers} give {rows[0].get('sku')!r} at {rows[0].get('location')!r} twice.")
    row = rows[0]
    where = f"Row {row.get('_row')}"
    sku, location = row.get("sku") or "", row.get("location") or ""
    if not sku or not location:
        raise NormaliseError(f"{where}: sku and location are required.")
    if len(sku) > 120 or len(location) > 120:
        raise NormaliseError(f"{where}: sku and location have at most 120 characters.")
    try:
        on_hand = Decimal(row.get("on_hand") or "")
    except InvalidOperation:
        raise NormaliseError(f"{where}: on_hand {row.get('on_hand')!r} is not a number.") from None
    if not on_hand.is_finite() or on_hand.quantize(Decimal("0.001")) != on_hand:
        raise NormaliseError(f"{where}: on_hand {row.get('on_hand')!r} is not a count (at most 3 decimals).")
    counted_at = timestamp(row.get("counted_at"), field=f"{where} counted_at")
    return docs.CanonicalInventoryLevel(
        location_external_id=location,
        sku=sku,
        on_hand=on_hand,
        source_version=version(counted_at),
        location_name=(row.get("location_name") or "")[:120],
        updated_at=counted_at,
    )


def normalise(*, topic: str, payload: Any) -> list[Document]:
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows:
        raise NormaliseError("The record has no rows.")
    if topic == "orders":
        return [order_normalise(rows)]
    if topic == "payouts":
        return [payout_normalise(rows)]
    if topic == "inventory":
        return [inventory_normalise(rows)]
    if topic == "shipments":
        return [shipment_normalise(rows)]
    raise NormaliseError(f"Topic {topic!r} is not handled by CSV files.")


def shipment_normalise(rows: list[Mapping[str, str]]) -> CanonicalShipment:
    """One parcel of a ship-confirmation file: every row is a SKU and quantity in it."""
    first = rows[0]
    lines = []
    for row in rows:
        where = f"Row {row.get('_row', '?')}"
        text = row.get("quantity", "")
        if not text.isdigit() or int(text) <= 0:
            raise NormaliseError(f"{where}: quantity {text!r} is not a positive whole number.")
        if not row.get("sku"):
            raise NormaliseError(f"{where}: sku is empty.")
        for name in ("carrier", "shipped_at"):
            if row.get(name) != first.get(name):
                raise NormaliseError(f"{where}: {name} differs from row {first.get('_row')} of the same parcel.")
        lines.append(ShipmentLineDoc(sku=row["sku"], quantity=int(text), line_external_id=row.get("line_id", "")))
    if not first.get("carrier"):
        raise NormaliseError(f"Row {first.get('_row', '?')}: carrier is empty.")
    return CanonicalShipment(
        external_id=first.get("shipment_id") or f"csv:{first['order_id']}:{first['tracking']}",
        shipped_at=timestamp(first.get("shipped_at"), field=f"Row {first.get('_row', '?')}: shipped_at"),
        lines=tuple(lines),
        order_reference=first["order_id"],
        carrier=first["carrier"][:80],
        tracking_number=first["tracking"][:120],
        tracking_url=first.get("tracking_url", "")[:500],
    )
