"""Square (API version 2025-07-16): orders, payments (as order tenders), refunds, payouts.

Webhooks: `x-square-hmacsha256-signature` = base64(HMAC-SHA256(signature key, notification URL +
raw body)); the URL is the one registered with Square (config `notification_url`, else the URL the
request arrived at). `order.created`/`order.updated` carry only the order id and version, so the
order is fetched (`GET /v2/orders/{id}`); `refund.*` carry the refund, whose itemised return
order is fetched; `payout.paid` carries the payout, whose entries are fetched.

Money: integer minor units; INCLUSIVE taxes set `taxes_included` (revenue = price less tax);
Square already spreads order-scope discounts over lines (`applied_discounts`); the order's
`version` is its source version.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from commerce.documents import (
    PAYOUT_ADJUSTMENT,
    PAYOUT_CHARGE,
    PAYOUT_FEE,
    PAYOUT_OTHER,
    PAYOUT_REFUND,
    PAYOUT_RESERVE,
    CanonicalInventoryLevel,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    DiscountDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from connectors.http import VendorClient
from connectors.models import Connection
from connectors.vendors import adapter_register
from connectors.vendors.base import (
    Adapter,
    DependencyMissing,
    Document,
    NormaliseError,
    Page,
    Record,
    WebhookIdentity,
    WebhookRejected,
)
from connectors.vendors.common import body, currency_code, minor, optional_timestamp, require, timestamp, version
from connectors.vendors.square_returns import returns_normalise
from posting.money import quantize

API_VERSION = "2025-07-16"
BASES = {"production": "https://connect.squareup.com/v2", "sandbox": "https://connect.squareupsandbox.com/v2"}
ORDER_TOPICS = ("order.created", "order.updated")
REFUND_TOPICS = ("refund.created", "refund.updated")
PAYOUT_TOPICS = ("payout.paid",)
PAYMENT_TOPICS = ("payment.created", "payment.updated")  # tenders arrive with the order
INVENTORY_TOPIC = "inventory.count.updated"
INVENTORY_POLL_TOPIC = "inventory"
ON_HAND_STATE = "IN_STOCK"
# Square payout entry (`PaymentBalanceActivity`) types Tillbridge books to a named role; any other
# type becomes an `other` line keeping Square's type, booked to payout suspense (never a refused payout).
ENTRY_TYPES = {
    "CHARGE": PAYOUT_CHARGE,
    "REFUND": PAYOUT_REFUND,
    "FEE": PAYOUT_FEE,
    "PROCESSING_FEE": PAYOUT_FEE,
    "TAX_ON_FEE": PAYOUT_FEE,
    "DEPOSIT_FEE": PAYOUT_FEE,
    "DEPOSIT_FEE_REVERSED": PAYOUT_FEE,
    "FREE_PROCESSING": PAYOUT_FEE,
    "THIRD_PARTY_FEE": PAYOUT_FEE,
    "THIRD_PARTY_FEE_REFUND": PAYOUT_FEE,
    "ADJUSTMENT": PAYOUT_ADJUSTMENT,
    "OTHER_ADJUSTMENT": PAYOUT_ADJUSTMENT,
    "RELEASE_ADJUSTMENT": PAYOUT_ADJUSTMENT,
    "DISPUTE": PAYOUT_ADJUSTMENT,
    "OPEN_DISPUTE": PAYOUT_ADJUSTMENT,
    "OTHER": PAYOUT_ADJUSTMENT,
    "HOLD_ADJUSTMENT": PAYOUT_RESERVE,
    "RESERVE_HOLD": PAYOUT_RESERVE,
    "RESERVE_RELEASE": PAYOUT_RESERVE,
    "RESERVE_RELEASED": PAYOUT_RESERVE,
    "AUTOMATIC_SAVINGS": PAYOUT_RESERVE,
    "AUTOMATIC_SAVINGS_REVERSED": PAYOUT_RESERVE,
}


def _money(value: Any, *, field: str, currency: str | None = None) -> tuple[Decimal, str]:
    """A Square `Money` object. Square's reference examples name the currency `currency` or
    `currency_code` (payouts); an amount with neither is in the document's own currency."""
    if not isinstance(value, dict):
        raise NormaliseError(f"{field} is missing.")
    given = value.get("currency") if value.get("currency") is not None else value.get("currency_code")
    if given is None and currency is not None:
        given = currency
    code = currency_code(given, field=f"{field}.currency")
    if currency is not None and code != currency:
        raise NormaliseError(f"{field} is in {code}, the order in {currency}.")
    return minor(value.get("amount"), code, field=f"{field}.amount"), code


def _quantity(value: Any, *, field: str) -> int:
    try:
        quantity = Decimal(str(value))
    except ArithmeticError:
        raise NormaliseError(f"{field}: {value!r} is not a quantity.") from None
    if quantity != quantity.to_integral_value() or quantity <= 0:
        raise NormaliseError(f"{field}: {value} is not a whole positive quantity (weighted items are not supported).")
    return int(quantity)


def order_normalise(order: Mapping[str, Any]) -> CanonicalOrder:
    order_id = str(require(order, "id"))
    total, currency = _money(order.get("total_money"), field="total_money")
    taxes_by_uid = {tax.get("uid"): tax for tax in order.get("taxes") or []}
    kinds = {tax.get("type") for tax in taxes_by_uid.values()}
    if {"ADDITIVE", "INCLUSIVE"} <= kinds:
        raise NormaliseError("The order mixes inclusive and additive taxes; post it by hand.")
    included = "INCLUSIVE" in kinds
    discounts_by_uid = {discount.get("uid"): discount for discount in order.get("discounts") or []}
    lines, discounts = [], []
    for index, item in enumerate(order.get("line_items") or []):
        uid = str(item.get("uid") or index)
        quantity = _quantity(item.get("quantity"), field=f"line_items[{uid}].quantity")
        gross, _ = _money(
            item.get("gross_sales_money"), field=f"line_items[{uid}].gross_sales_money", currency=currency
        )
        unit = gross / quantity
        if quantize(unit, currency) != unit:
            raise NormaliseError(f"line_items[{uid}]: {gross} over {quantity} is not a whole unit price.")
        taxes = []
        for applied in item.get("applied_taxes") or []:
            amount, _ = _money(applied.get("applied_money"), field="applied_taxes.applied_money", currency=currency)
            tax = taxes_by_uid.get(applied.get("tax_uid"), {})
            if amount:
                taxes.append(
                    TaxLineDoc(
                        jurisdiction=str(tax.get("name") or "tax")[:80],
                        rate=Decimal(str(tax.get("percentage") or 0)) / 100,
                        amount=amount,
                    )
                )
        for applied in item.get("applied_discounts") or []:
            amount, _ = _money(applied.get("applied_money"), field="applied_discounts.applied_money", currency=currency)
            discount = discounts_by_uid.get(applied.get("discount_uid"), {})
            if amount:
                discounts.append(
                    DiscountDoc(amount=amount, code=str(discount.get("name") or "")[:80], line_external_id=uid)
                )
        lines.append(
            OrderLineDoc(
                external_id=uid,
                sku=str(item.get("catalog_object_id") or "")[:120],
                quantity=quantity,
                unit_price=unit,
                title=" ".join(filter(None, [item.get("name"), item.get("variation_name")]))[:255],
                taxes=tuple(taxes),
            )
        )
    shipping = []
    for charge in order.get("service_charges") or []:
        amount, _ = _money(charge.get("total_money"), field="service_charges.total_money", currency=currency)
        tax_amount, _ = _money(
            charge.get("total_tax_money") or {"amount": 0, "currency": currency},
            field="service_charges.tax",
            currency=currency,
        )
        charge_taxes = []
        for applied in charge.get("applied_taxes") or []:
            value, _ = _money(applied.get("applied_money"), field="service_charges.applied_taxes", currency=currency)
            tax = taxes_by_uid.get(applied.get("tax_uid"), {})
            charge_taxes.append(
                TaxLineDoc(str(tax.get("name") or "tax")[:80], Decimal(str(tax.get("percentage") or 0)) / 100, value)
            )
        printed = amount if included else amount - tax_amount
        shipping.append(
            ShippingLineDoc(
                external_id=str(charge.get("uid")),
                amount=printed,
                code=str(charge.get("name") or "")[:60],
                title=str(charge.get("name") or "")[:120],
                taxes=tuple(charge_taxes),
            )
        )
    payments = []
    for tender in order.get("tenders") or []:
        amount, _ = _money(tender.get("amount_money"), field="tenders.amount_money", currency=currency)
        fee = Decimal(0)
        if tender.get("processing_fee_money"):
            fee, _ = _money(tender["processing_fee_money"], field="tenders.processing_fee_money", currency=currency)
        kind = tender.get("type") or ""
        payments.append(
            PaymentDoc(
                external_id=str(tender.get("payment_id") or tender.get("id")),
                gateway="cash" if kind == "CASH" else "square",
                amount=amount,
                method=kind.lower()[:60],
                fee=fee,
                is_gift_card=kind == "SQUARE_GIFT_CARD",
            )
        )
    state = order.get("state")
    placed_at = timestamp(require(order, "created_at"), field="created_at")
    paid = sum((payment.amount for payment in payments), Decimal(0))
    closed_at = optional_timestamp(order.get("closed_at"), field="closed_at")
    return CanonicalOrder(
        external_id=order_id,
        source_version=int(order.get("version") or version(timestamp(order.get("updated_at"), field="updated_at"))),
        currency=currency,
        placed_at=placed_at,
        lines=tuple(lines),
        channel=str((order.get("source") or {}).get("name") or "square")[:60],
        store=str(order.get("location_id") or "")[:60],
        paid_at=(closed_at or placed_at) if payments and paid == total else None,
        cancelled_at=optional_timestamp(order.get("updated_at"), field="updated_at") if state == "CANCELED" else None,
        customer_ref=str(order.get("customer_id") or "")[:120],
        taxes_included=included,
        discounts=tuple(discounts),
        shipping_lines=tuple(shipping),
        payments=tuple(payments) if paid == total else (),
        vendor_total=total,
    )


def _is_event(payload: Any) -> bool:
    """A Square webhook event envelope: `type` and a `data` object."""
    return isinstance(payload, dict) and isinstance(payload.get("type"), str) and isinstance(payload.get("data"), dict)


def _saved_object(payload: Mapping[str, Any], topic: str) -> Mapping[str, Any]:
    """The object of a saved API response: `{"order": …}`, `{"refund": …}`, `{"payout": …}` or bare."""
    for key in ("order", "refund", "payout"):
        if key in topic and isinstance(payload.get(key), dict):
            return payload[key]
    return payload


def refund_normalise(refund: Mapping[str, Any], return_order: Mapping[str, Any] | None) -> CanonicalRefund | None:
    """A completed refund; None while pending or when it failed. With its itemised return order the
    refund carries the returned lines; without one (an amount-only refund, Square's RefundPayment
    without itemisation) it is a refund of its amount with no lines against the refund's order,
    and posting decides how that amount is spread (DESIGN.md §4)."""
    if refund.get("status") != "COMPLETED":
        return None
    refund_id = str(require(refund, "id"))
    amount, currency = _money(refund.get("amount_money"), field="refund.amount_money")
    returns = (return_order or {}).get("returns") or []
    lines = []
    shipping = Decimal(0)
    source_order = str(require(returns[0], "source_order_id")) if returns else str(require(refund, "order_id"))
    for ret in returns:
        for line in ret.get("return_line_items") or []:
            lines.append(
                RefundLineDoc(
                    line_external_id=str(require(line, "source_line_item_uid")),
                    quantity=_quantity(line.get("quantity"), field="return_line_items.quantity"),
                )
            )
        for charge in ret.get("return_service_charges") or []:
            value, _ = _money(charge.get("total_money"), field="return_service_charges.total_money", currency=currency)
            shipping += value
    updated = timestamp(refund.get("updated_at") or refund.get("created_at"), field="updated_at")
    return CanonicalRefund(
        external_id=refund_id,
        order_external_id=source_order,
        source_version=version(updated),
        currency=currency,
        processed_at=updated,
        lines=tuple(lines),
        shipping=shipping,
        gateway="square",
        amount=amount,
        reason=str(refund.get("reason") or "")[:255],
    )


def payout_normalise(
    payout: Mapping[str, Any], entries: list[Mapping[str, Any]], references: Mapping[str, str]
) -> CanonicalPayout:
    """A payout with its entries. Gross and fee keep Square's signs (a refund's fee comes back as a
    negative fee), so gross - fee is Square's `net_amount_money` for every entry."""
    amount, currency = _money(payout.get("amount_money"), field="payout.amount_money")
    if not isinstance(entries, list):
        raise NormaliseError("payout_entries: is not a list.")
    lines = []
    for index, entry in enumerate(entries):
        field = f"payout_entries[{index}]"
        if not isinstance(entry, dict):
            raise NormaliseError(f"{field}: {entry!r} is not a payout entry.")
        kind = str(entry.get("type") or "").strip().upper()
        line_type = ENTRY_TYPES.get(kind, PAYOUT_OTHER)
        gross, _ = _money(entry.get("gross_amount_money"), field=f"{field}.gross_amount_money", currency=currency)
        fee = Decimal(0)
        if entry.get("fee_amount_money"):
            fee, _ = _money(entry["fee_amount_money"], field=f"{field}.fee_amount_money", currency=currency)
        if line_type == PAYOUT_CHARGE:
            payment_id = str((entry.get("type_charge_details") or {}).get("payment_id") or "")
            reference = references.get(payment_id, payment_id)
        elif line_type == PAYOUT_REFUND:
            reference = str((entry.get("type_refund_details") or {}).get("refund_id") or "")
        else:
            reference = ""
        lines.append(
            PayoutLineDoc(
                type=line_type,
                amount=gross,
                fee=fee,
                reference=reference[:120],
                external_id=str(entry.get("id") or "")[:120],
                description=kind.lower()[:255],
                vendor_type=kind[:60],
            )
        )
    try:
        arrival = dt.date.fromisoformat(str(payout.get("arrival_date")))
    except ValueError:
        raise NormaliseError(f"payout.arrival_date: {payout.get('arrival_date')!r} is not a date.") from None
    return CanonicalPayout(
        external_id=str(require(payout, "id")),
        source_version=int(payout.get("version") or 1),
        currency=currency,
        arrival_date=arrival,
        amount=amount,
        gateway="square",
        lines=tuple(lines),
    )


def inventory_count_normalise(count: Mapping[str, Any]) -> CanonicalInventoryLevel | None:
    """One InventoryCount. Only the IN_STOCK state is stock on hand (SOLD, WASTE, RETURNED_BY_CUSTOMER…
    are not); None for other states. The SKU is the variation's catalog object id, as on orders."""
    if count.get("state") != ON_HAND_STATE:
        return None
    variation = str(require(count, "catalog_object_id"))
    location = str(require(count, "location_id"))
    if count.get("catalog_object_type") not in (None, "ITEM_VARIATION"):
        raise NormaliseError(
            f"Inventory count for {variation} is a {count.get('catalog_object_type')}, not a variation."
        )
    raw = count.get("quantity")
    try:
        quantity = Decimal(str(raw))
    except ArithmeticError:
        raise NormaliseError(f"quantity: {raw!r} is not a quantity.") from None
    if raw is None or isinstance(raw, bool | float) or not quantity.is_finite():
        raise NormaliseError(f"quantity: {raw!r} is not a quantity.")
    calculated = timestamp(require(count, "calculated_at"), field="calculated_at")
    return CanonicalInventoryLevel(
        location_external_id=location,
        sku=variation[:120],
        on_hand=quantity,
        source_version=version(calculated),
        external_id=variation[:120],
        updated_at=calculated,
    )


class SquareAdapter(Adapter):
    vendor = Connection.Vendor.SQUARE
    topics = (
        *ORDER_TOPICS,
        *REFUND_TOPICS,
        *PAYOUT_TOPICS,
        *PAYMENT_TOPICS,
        "orders",
        "payouts",
        INVENTORY_TOPIC,
        INVENTORY_POLL_TOPIC,
    )
    poll_topics = ("orders", "payouts")
    inventory_topics = (INVENTORY_TOPIC, INVENTORY_POLL_TOPIC)
    credential_fields = ("access_token",)
    config_fields = ("location_ids", "environment", "notification_url")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        environment = config.get("environment", "production")
        if not isinstance(environment, str) or environment not in BASES:
            raise ValidationError({"config": ["environment must be production or sandbox."]})
        locations = config.get("location_ids", [])
        if not isinstance(locations, list) or not all(isinstance(item, str) for item in locations):
            raise ValidationError({"config": ["location_ids must be a list of Square location ids."]})

    def client(self, connection: Connection) -> VendorClient:
        token = connection.credentials.get("access_token", "")
        return VendorClient(
            base_url=BASES[connection.config.get("environment", "production")],
            connection_id=connection.pk,
            headers={"Authorization": f"Bearer {token}", "Square-Version": API_VERSION},
            secrets=[token, connection.webhook_secret, connection.credentials.get("refresh_token", "")],
            rate_per_second=10,
        )

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = headers.get("x-square-hmacsha256-signature", "")
        secret = connection.webhook_secret
        if not given or not secret:
            raise WebhookRejected("Missing x-square-hmacsha256-signature.")
        notification_url = connection.config.get("notification_url") or url
        digest = hmac.new(secret.encode(), notification_url.encode() + body, hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest), given.strip().encode()):
            raise WebhookRejected("The Square signature does not match.")

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        if not isinstance(payload, dict) or not payload.get("type"):
            raise WebhookRejected("The payload is not a Square event.", status=400)
        data = payload.get("data") or {}
        if not data.get("id"):
            raise WebhookRejected("The event has no data.id.", status=400)
        return WebhookIdentity(topic=str(payload["type"]), external_id=str(data["id"]))

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        """A saved file is a webhook event, or an object as Square's API returns it: an order
        (RetrieveOrder `{"order": …}` or the bare Order), a refund (GetPaymentRefund `{"refund": …}`,
        optionally with its `return_order`), a payout (GetPayout `{"payout": …}` with the
        ListPayoutEntries `payout_entries`)."""
        if _is_event(payload):
            return self.webhook_identify(body=b"", payload=payload, headers={})
        obj = _saved_object(payload, topic)
        if not obj.get("id"):
            raise WebhookRejected("The saved object has no id.", status=400)
        return WebhookIdentity(topic=topic, external_id=str(obj["id"]))

    def normalise(self, *, topic: str, payload: Any, connection: Connection) -> list[Document]:
        if not isinstance(payload, dict):
            raise NormaliseError("The payload is not a JSON object.")
        if topic in PAYMENT_TOPICS:
            return []  # a payment is the order's tender; the order event carries it
        event = _is_event(payload)
        if topic == INVENTORY_TOPIC:
            counts = require(payload, "data", "object", "inventory_counts")
            if not isinstance(counts, list):
                raise NormaliseError("data.object.inventory_counts is not a list.")
            documents = [inventory_count_normalise(count) for count in counts if isinstance(count, dict)]
            return [document for document in documents if document is not None]
        if topic == INVENTORY_POLL_TOPIC:
            document = inventory_count_normalise(payload)
            return [document] if document is not None else []
        if topic == "orders" or (topic in ORDER_TOPICS and not event):
            saved = _saved_object(payload, topic)
            return [order_normalise(saved), *returns_normalise(saved)]
        if topic in ORDER_TOPICS:
            order_id = str(require(payload, "data", "id"))
            with self.client(connection) as client:
                order = (client.get(f"orders/{order_id}") or {}).get("order")
            if not isinstance(order, dict):
                raise NormaliseError(f"Square returned no order {order_id}.")
            return [order_normalise(order), *returns_normalise(order)]
        if topic in REFUND_TOPICS:
            refund = require(payload, "data", "object", "refund") if event else _saved_object(payload, topic)
            if not isinstance(refund, dict):
                raise NormaliseError("refund: is not an object.")
            if refund.get("status") != "COMPLETED":
                return []
            document = refund_normalise(refund, self._return_order(connection, refund, payload, event=event))
            return [document] if document else []
        if topic in (*PAYOUT_TOPICS, "payouts"):
            if event:
                payout = require(payload, "data", "object", "payout")
                entries = None
            else:
                payout = _saved_object(payload, topic)
                entries = payload.get("entries") if "entries" in payload else payload.get("payout_entries")
            if entries is None:
                with self.client(connection) as client:
                    entries = self._entries(client, str(require(payout, "id")))
            if not isinstance(entries, list):
                raise NormaliseError("payout_entries: is not a list.")
            return [payout_normalise(payout, entries, self._references(connection, entries))]
        raise NormaliseError(f"Topic {topic!r} is not handled by Square.")

    def _return_order(
        self, connection: Connection, refund: Mapping[str, Any], payload: Mapping[str, Any], *, event: bool
    ) -> Mapping[str, Any] | None:
        """The itemised return behind a refund. A refund whose `order_id` is a stored order is an
        amount-only refund of that order (no return); a saved file may carry its `return_order`;
        only a webhook event reads the return order from Square's API."""
        order_id = refund.get("order_id")
        if not order_id:
            return None
        from commerce.models import Order

        stored = Order.objects.filter(
            source=self.vendor, source_connection_id=connection.pk, external_id=str(order_id)
        ).exists()
        if stored:
            return None
        if not event:
            if isinstance(payload.get("return_order"), dict):
                return payload["return_order"]
            raise DependencyMissing(
                f"Refund {refund.get('id')} is for order {order_id}, not stored yet; ingest the order first "
                "or save the refund with its return_order."
            )
        with self.client(connection) as client:
            return (client.get(f"orders/{order_id}") or {}).get("order")

    def _references(self, connection: Connection, entries: list[Mapping[str, Any]]) -> dict[str, str]:
        """Payout entries name payments; reconciliation matches orders: map through stored tenders."""
        from commerce.models import Payment

        payment_ids = [
            str((entry.get("type_charge_details") or {}).get("payment_id"))
            for entry in entries
            if entry.get("type") == "CHARGE"
        ]
        rows = Payment.objects.filter(
            external_id__in=payment_ids, order__source=self.vendor, order__source_connection_id=connection.pk
        ).values_list("external_id", "order__external_id")
        return dict(rows)

    def _entries(self, client: VendorClient, payout_id: str) -> list[dict]:
        entries: list[dict] = []
        params: dict[str, Any] = {"limit": 100}
        seen: set[str] = set()
        while True:
            data = client.get(f"payouts/{payout_id}/payout-entries", params=params) or {}
            page = data.get("payout_entries") or []
            if not isinstance(page, list):
                raise NormaliseError(f"Payout {payout_id}: payout_entries is not a list.")
            entries.extend(page)
            cursor = data.get("cursor")
            if not cursor:
                return entries
            if cursor in seen or not page:  # a cursor that does not move on would page forever
                raise NormaliseError(f"Payout {payout_id}: Square returned the entries cursor {cursor!r} again.")
            seen.add(cursor)
            params["cursor"] = cursor

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        if topic == "orders":
            return self._orders_page(connection=connection, client=client, cursor=cursor, since=since)
        if topic == "payouts":
            params: dict[str, Any] = {"status": "PAID", "limit": 100, "sort_order": "ASC"}
            if cursor.get("cursor"):
                params["cursor"] = cursor["cursor"]
            if cursor.get("begin_time") or since:
                params["begin_time"] = cursor.get("begin_time") or since.isoformat()
            data = client.get("payouts", params=params) or {}
            records = []
            for payout in data.get("payouts") or []:
                entries = self._entries(client, str(payout["id"]))
                records.append(Record("payouts", str(payout["id"]), body({"payout": payout, "entries": entries})))
            newest = max(
                [cursor.get("newest") or "", *(str(p.get("created_at") or "") for p in data.get("payouts") or [])]
            )
            if data.get("cursor"):
                return Page(records, {**cursor, "cursor": data["cursor"], "newest": newest}, done=False)
            return Page(records, {"begin_time": newest} if newest else {}, done=True)
        if topic == INVENTORY_POLL_TOPIC:
            return self._inventory_page(connection=connection, client=client, cursor=cursor, since=since)
        raise NormaliseError(f"Square cannot poll {topic!r}.")

    def poll_topics_for(self, connection: Connection) -> tuple[str, ...]:
        if connection.config.get("sync_inventory"):
            return (*self.poll_topics, INVENTORY_POLL_TOPIC)
        return self.poll_topics

    def _inventory_page(
        self, *, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None
    ) -> Page:
        """`POST /v2/inventory/counts/batch-retrieve` for the configured locations, IN_STOCK only,
        changed after the watermark; one record per count."""
        locations = connection.config.get("location_ids") or []
        if not locations:
            raise NormaliseError("Set the Square location ids to poll inventory.")
        start = cursor.get("updated_after") or (since.isoformat() if since else None)
        query: dict[str, Any] = {"location_ids": locations, "states": [ON_HAND_STATE], "limit": 1000}
        if start:
            query["updated_after"] = start
        if cursor.get("cursor"):
            query["cursor"] = cursor["cursor"]
        data = client.json("POST", "inventory/counts/batch-retrieve", json=query) or {}
        counts = data.get("counts") or []
        records = [
            Record(INVENTORY_POLL_TOPIC, f"{count.get('catalog_object_id')}:{count.get('location_id')}", body(count))
            for count in counts
        ]
        newest = max([cursor.get("newest") or "", *(str(count.get("calculated_at") or "") for count in counts)])
        if data.get("cursor"):
            return Page(records, {"updated_after": start, "newest": newest, "cursor": data["cursor"]}, done=False)
        return Page(records, {"updated_after": newest or start} if (newest or start) else {}, done=True)

    def _orders_page(
        self, *, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None
    ) -> Page:
        locations = connection.config.get("location_ids") or []
        if not locations:
            raise NormaliseError("Set the Square location ids to poll orders.")
        start = cursor.get("updated_at_min") or (since.isoformat() if since else "1970-01-01T00:00:00Z")
        query = {
            "location_ids": locations,
            "limit": 100,
            "query": {
                "filter": {"date_time_filter": {"updated_at": {"start_at": start}}},
                "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"},
            },
        }
        if cursor.get("cursor"):
            query["cursor"] = cursor["cursor"]
        data = client.json("POST", "orders/search", json=query) or {}
        orders = data.get("orders") or []
        records = [Record("orders", str(order.get("id")), body(order)) for order in orders]
        newest = max([cursor.get("newest") or "", *(str(order.get("updated_at") or "") for order in orders)])
        if data.get("cursor"):
            return Page(records, {"updated_at_min": start, "newest": newest, "cursor": data["cursor"]}, done=False)
        return Page(records, {"updated_at_min": newest or start}, done=True)

    def connection_test(self, *, connection: Connection) -> str:
        with self.client(connection) as client:
            data = client.get("locations") or {}
        names = ", ".join(f"{loc.get('name')} ({loc.get('id')})" for loc in data.get("locations") or [])
        return f"Connected to Square; locations: {names or 'none'}."


adapter_register(SquareAdapter())
