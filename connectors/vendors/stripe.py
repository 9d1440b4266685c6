"""Stripe (API version 2024-06-20): charges, refunds, payouts with their balance transactions.

Webhooks: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<raw body>")>`,
any v1 may match (secret rotation), timestamp within 5 minutes. The event envelope's `type` is the
topic and `data.object.id` the external id.

Stripe charges carry no item lines. A charge becomes an order with one line counted in the
currency's minor units (quantity = amount in minor units, unit price = one minor unit), so a
partial refund of any amount maps to an exact quantity and posting's pro-rata refund rule stays
exact. Amounts arrive in minor units and are converted with core.money (JPY 0, KWD 3 decimals).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
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
    CanonicalOrder,
    CanonicalPayout,
    CanonicalProcessorCharge,
    CanonicalRefund,
    DiscountDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from connectors.models import Connection
from connectors.selectors import STRIPE_ROLE_PROCESSOR, STRIPE_ROLES, stripe_role
from connectors.vendors import adapter_register
from connectors.vendors.base import (
    Adapter,
    Document,
    NormaliseError,
    Page,
    Record,
    WebhookIdentity,
    WebhookRejected,
)
from connectors.vendors.common import body, currency_code, minor, require
from core.http.client import VendorClient
from core.money import from_minor

API_BASE = "https://api.stripe.com/v1"
API_VERSION = "2024-06-20"
TOLERANCE_SECONDS = 300
PAGE_SIZE = 100
CHARGE_TOPICS = ("charge.succeeded", "charge.captured", "charge.updated", "charge.refunded")
REFUND_TOPICS = ("refund.created", "refund.updated", "charge.refund.updated")
PAYOUT_TOPICS = ("payout.paid", "payout.updated")
# Covered by the charge events of the same payment; stored and marked ignored, never lost.
COVERED_TOPICS = ("payment_intent.succeeded",)
BALANCE_TYPES = {
    "charge": PAYOUT_CHARGE,
    "payment": PAYOUT_CHARGE,
    "refund": PAYOUT_REFUND,
    "payment_refund": PAYOUT_REFUND,
    "adjustment": PAYOUT_ADJUSTMENT,
    "dispute": PAYOUT_ADJUSTMENT,
    "stripe_fee": PAYOUT_FEE,
    "application_fee": PAYOUT_FEE,
    "tax_fee": PAYOUT_FEE,
    "reserve_transaction": PAYOUT_RESERVE,
    "reserved_funds": PAYOUT_RESERVE,
}


def signature_header(*, secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _object_id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _balance_fee(balance_transaction: Any, currency: str) -> Decimal | None:
    """The fee of an expanded balance transaction; None when it is only an id (not expanded)."""
    if isinstance(balance_transaction, dict) and balance_transaction.get("fee") is not None:
        return minor(balance_transaction["fee"], currency, field="balance_transaction.fee")
    return None


def _captured_units(charge: Mapping[str, Any], charge_id: str) -> tuple[bool, int]:
    captured = bool(charge.get("captured")) and charge.get("status") == "succeeded"
    amount_units = charge.get("amount_captured") if captured else charge.get("amount")
    if isinstance(amount_units, bool) or not isinstance(amount_units, int) or amount_units <= 0:
        raise NormaliseError(f"Charge {charge_id}: amount {amount_units!r} is not a positive amount.")
    return captured, amount_units


def _jurisdiction(charge: Mapping[str, Any]) -> str:
    """Where level-3 tax is owed: the shipping address, else the billing address (country-state)."""
    for holder in (charge.get("shipping"), charge.get("billing_details")):
        address = holder.get("address") if isinstance(holder, dict) else None
        if isinstance(address, dict) and address.get("country"):
            parts = [str(address["country"]), str(address.get("state") or "")]
            return "-".join(part for part in parts if part)[:80]
    return "unspecified"


def _level3_count(value: Any, field: str, *, default: int | None = None, positive: bool = False) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise NormaliseError(f"{field}: {value!r} is not a {'positive' if positive else 'non-negative'} whole number.")
    return value


def _level3(
    charge: Mapping[str, Any], charge_id: str, currency: str
) -> tuple[tuple[OrderLineDoc, ...], tuple[DiscountDoc, ...], tuple[ShippingLineDoc, ...]] | None:
    """Stripe's level-3 data (`level3.line_items` with product_code, product_description,
    unit_cost, quantity, tax_amount, discount_amount in minor units; `level3.shipping_amount`):
    one order line per item, its discount and tax, and shipping. None when the charge has none."""
    level3 = charge.get("level3")
    if level3 is None:
        return None
    if not isinstance(level3, dict):
        raise NormaliseError("level3: not an object.")
    items = level3.get("line_items")
    if not items:
        return None
    if not isinstance(items, list):
        raise NormaliseError("level3.line_items: not a list.")
    jurisdiction = _jurisdiction(charge)
    lines = []
    discounts = []
    for index, item in enumerate(items):
        field = f"level3.line_items[{index}]"
        if not isinstance(item, dict):
            raise NormaliseError(f"{field}: not an object.")
        quantity = _level3_count(item.get("quantity"), f"{field}.quantity", default=1, positive=True)
        unit_cost = minor(_level3_count(item.get("unit_cost"), f"{field}.unit_cost"), currency)
        tax = minor(_level3_count(item.get("tax_amount"), f"{field}.tax_amount", default=0), currency)
        discount = minor(_level3_count(item.get("discount_amount"), f"{field}.discount_amount", default=0), currency)
        line_id = f"{charge_id}:l3:{index}"
        taxable = unit_cost * quantity - discount
        rate = (tax / taxable).quantize(Decimal("0.000001")) if taxable > 0 else Decimal(0)
        lines.append(
            OrderLineDoc(
                external_id=line_id,
                sku=str(item.get("product_code") or "")[:120],
                quantity=quantity,
                unit_price=unit_cost,
                title=str(item.get("product_description") or item.get("product_code") or "Stripe item")[:255],
                taxes=(TaxLineDoc(jurisdiction=jurisdiction, rate=rate, amount=tax),) if tax else (),
            )
        )
        if discount:
            discounts.append(DiscountDoc(amount=discount, code="level3", line_external_id=line_id))
    shipping_units = _level3_count(level3.get("shipping_amount"), "level3.shipping_amount", default=0)
    shipping = ()
    if shipping_units:
        shipping = (ShippingLineDoc(f"{charge_id}:shipping", minor(shipping_units, currency), title="Shipping"),)
    return tuple(lines), tuple(discounts), shipping


def charge_normalise(charge: Mapping[str, Any], *, version_seconds: int | None = None) -> CanonicalOrder:
    """A charge of a merchant who sells through Stripe alone (role `sales_channel`): the sale.
    With level-3 data its items, discounts, tax and shipping are the order; without, the whole
    amount is one line counted in minor units. The fee is kept when the balance transaction is
    expanded (posted at charge time), else it is booked by the payout."""
    charge_id = str(require(charge, "id"))
    currency = currency_code(charge.get("currency"))
    captured, amount_units = _captured_units(charge, charge_id)
    created = dt.datetime.fromtimestamp(require(charge, "created"), tz=dt.UTC)
    fee = _balance_fee(charge.get("balance_transaction"), currency) or Decimal(0)
    method = ((charge.get("payment_method_details") or {}).get("type")) or ""
    payments = ()
    if captured:
        payments = (
            PaymentDoc(
                external_id=charge_id,
                gateway="stripe",
                amount=minor(amount_units, currency),
                method=str(method)[:60],
                fee=fee,
            ),
        )
    level3 = _level3(charge, charge_id, currency)
    if level3 is not None:
        lines, discounts, shipping = level3
    else:
        lines = (
            OrderLineDoc(
                external_id=f"{charge_id}:amount",
                sku="",
                quantity=amount_units,
                unit_price=from_minor(1, currency),
                title=str(charge.get("description") or charge.get("statement_descriptor") or "Stripe charge")[:255],
            ),
        )
        discounts, shipping = (), ()
    return CanonicalOrder(
        external_id=charge_id,
        source_version=(version_seconds or int(created.timestamp())) * 1000,
        currency=currency,
        placed_at=created,
        paid_at=created if captured else None,
        channel="stripe",
        customer_ref=_object_id(charge.get("customer"))[:120],
        lines=lines,
        discounts=discounts,
        shipping_lines=shipping,
        payments=payments,
        vendor_total=minor(amount_units, currency),
    )


# Where storefront payment plugins leave their order's id in the charge's metadata
# (WooCommerce Stripe Gateway: `order_id`; others: `order_number`, `shopify_order_id`).
ORDER_METADATA_KEYS = ("order_id", "order_number", "woocommerce_order_id", "shopify_order_id")


def processor_charge_normalise(
    charge: Mapping[str, Any], *, balance_transaction: Any = None
) -> CanonicalProcessorCharge | None:
    """A charge of a Stripe connection in the `processor` role: the payment of a storefront's
    order. None while it is not captured (nothing was settled yet)."""
    charge_id = str(require(charge, "id"))
    currency = currency_code(charge.get("currency"))
    captured, amount_units = _captured_units(charge, charge_id)
    if not captured:
        return None
    created = dt.datetime.fromtimestamp(require(charge, "created"), tz=dt.UTC)
    if balance_transaction is None:
        balance_transaction = charge.get("balance_transaction")
    fee = _balance_fee(balance_transaction, currency)
    intent = _object_id(charge.get("payment_intent"))
    metadata = charge.get("metadata") if isinstance(charge.get("metadata"), dict) else {}
    named = (str(metadata.get(key) or "").strip()[:120] for key in ORDER_METADATA_KEYS)
    order_references = tuple(dict.fromkeys(reference for reference in named if reference))
    return CanonicalProcessorCharge(
        external_id=charge_id,
        gateway="stripe",
        currency=currency,
        amount=minor(amount_units, currency),
        created_at=created,
        fee=fee,
        references=tuple(reference for reference in (charge_id, intent) if reference),
        order_references=order_references,
        description=str(charge.get("description") or "")[:255],
    )


def refund_normalise(refund: Mapping[str, Any], *, version_seconds: int | None = None) -> CanonicalRefund | None:
    """None for a refund that failed or was cancelled: nothing was paid back."""
    if refund.get("status") in ("failed", "canceled"):
        return None
    refund_id = str(require(refund, "id"))
    charge_id = _object_id(refund.get("charge"))
    if not charge_id:
        raise NormaliseError(f"Refund {refund_id} names no charge.")
    currency = currency_code(refund.get("currency"))
    units = refund.get("amount")
    if not isinstance(units, int) or units <= 0:
        raise NormaliseError(f"Refund {refund_id} has no positive amount.")
    created = dt.datetime.fromtimestamp(require(refund, "created"), tz=dt.UTC)
    return CanonicalRefund(
        external_id=refund_id,
        order_external_id=charge_id,
        source_version=(version_seconds or int(created.timestamp())) * 1000,
        currency=currency,
        processed_at=created,
        # No lines: a Stripe refund names an amount only. Posting reverses what remains when it is
        # all of it, else applies the tenant's policy for lineless refunds (level-3 items too).
        gateway="stripe",
        amount=minor(units, currency),
        reason=str(refund.get("reason") or "")[:255],
    )


def payout_normalise(payout: Mapping[str, Any], transactions: list[Mapping[str, Any]]) -> CanonicalPayout:
    payout_id = str(require(payout, "id"))
    currency = currency_code(payout.get("currency"))
    lines = []
    for transaction in transactions:
        kind = transaction.get("type")
        if kind in ("payout", "payout_cancel", "payout_failure"):
            continue
        # An unknown type is kept with Stripe's own type and booked to payout suspense.
        line_type = BALANCE_TYPES.get(kind, PAYOUT_OTHER)
        lines.append(
            PayoutLineDoc(
                type=line_type,
                amount=minor(transaction.get("amount"), currency, field="balance_transaction.amount"),
                fee=minor(transaction.get("fee") or 0, currency, field="balance_transaction.fee"),
                reference=_object_id(transaction.get("source")),
                external_id=str(transaction.get("id") or ""),
                description=str(transaction.get("description") or transaction.get("reporting_category") or kind)[:255],
                vendor_type=str(kind or "")[:60],
            )
        )
    arrival = dt.datetime.fromtimestamp(require(payout, "arrival_date"), tz=dt.UTC).date()
    return CanonicalPayout(
        external_id=payout_id,
        source_version=2 if payout.get("status") == "paid" else 1,
        currency=currency,
        arrival_date=arrival,
        amount=minor(payout.get("amount"), currency),
        gateway="stripe",
        lines=tuple(lines),
    )


class StripeAdapter(Adapter):
    vendor = Connection.Vendor.STRIPE
    topics = (*CHARGE_TOPICS, *REFUND_TOPICS, *PAYOUT_TOPICS, *COVERED_TOPICS, "charges", "refunds", "payouts")
    poll_topics = ("charges", "refunds", "payouts")
    credential_fields = ("secret_key",)
    config_fields = ("api_version", "stripe_account", "role")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        role = config.get("role")
        if role not in (None, "", *STRIPE_ROLES):
            raise ValidationError({"config": [f"role: {role!r} is not one of {', '.join(STRIPE_ROLES)} (or empty)."]})

    def client(self, connection: Connection) -> VendorClient:
        key = connection.credentials.get("secret_key") or connection.credentials.get("access_token", "")
        headers = {
            "Authorization": f"Bearer {key}",
            "Stripe-Version": connection.config.get("api_version") or API_VERSION,
        }
        account = connection.config.get("stripe_account")
        if account:
            headers["Stripe-Account"] = account  # Stripe Connect: act on the connected account
        return VendorClient(
            base_url=API_BASE,
            connection_id=connection.pk,
            headers=headers,
            secrets=[key, connection.webhook_secret],
            rate_per_second=25,
        )

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        header = headers.get("Stripe-Signature", "")
        secret = connection.webhook_secret
        if not header or not secret:
            raise WebhookRejected("Missing Stripe-Signature.")
        timestamp = None
        signatures = []
        for part in header.split(","):
            key, _, value = part.strip().partition("=")
            if key == "t" and value.isdigit():
                timestamp = int(value)
            elif key == "v1":
                signatures.append(value)
        if timestamp is None or not signatures:
            raise WebhookRejected("Stripe-Signature has no timestamp or v1 signature.")
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRejected("The Stripe signature timestamp is outside the 5 minute tolerance.")
        expected = signature_header(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
        if not any(hmac.compare_digest(expected.encode(), signature.encode()) for signature in signatures):
            raise WebhookRejected("The Stripe signature does not match.")

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        if not isinstance(payload, dict) or payload.get("object") != "event" or not payload.get("type"):
            raise WebhookRejected("The payload is not a Stripe event.", status=400)
        obj = (payload.get("data") or {}).get("object")
        if not isinstance(obj, dict) or not obj.get("id"):
            raise WebhookRejected("The event has no data.object.id.", status=400)
        return WebhookIdentity(topic=str(payload["type"]), external_id=str(obj["id"]))

    def file_identify(self, *, topic: str, payload: Any) -> WebhookIdentity:
        """A saved event, or a bare API object (a charge, refund or payout as `GET /v1/…` returns it)."""
        if isinstance(payload, dict) and payload.get("object") == "event":
            return self.webhook_identify(body=b"", payload=payload, headers={})
        if (
            not isinstance(payload, dict)
            or payload.get("object") not in ("charge", "refund", "payout")
            or not payload.get("id")
        ):
            raise WebhookRejected(
                "The file is neither a Stripe event nor a charge, refund or payout object.", status=400
            )
        return WebhookIdentity(topic=topic, external_id=str(payload["id"]))

    def normalise(self, *, topic: str, payload: Any, connection: Connection) -> list[Document]:
        if not isinstance(payload, dict):
            raise NormaliseError("The payload is not a JSON object.")
        if topic in ("charges", "refunds", "payouts") or payload.get("object") != "event":
            # polled records and saved API objects: the bare object
            obj, version = payload, None
        else:
            obj, version = require(payload, "data", "object"), payload.get("created")
        if not isinstance(obj, dict):
            raise NormaliseError("data.object: is not an object.")
        if topic in COVERED_TOPICS:
            return []
        if topic in (*CHARGE_TOPICS, "charges"):
            if stripe_role(connection=connection) == STRIPE_ROLE_PROCESSOR:
                return self._processor_charge(obj, connection)
            documents: list[Document] = [charge_normalise(obj, version_seconds=version)]
            for refund in (obj.get("refunds") or {}).get("data") or []:
                document = refund_normalise(refund)
                if document is not None:
                    documents.append(document)
            return documents
        if topic in (*REFUND_TOPICS, "refunds"):
            if stripe_role(connection=connection) == STRIPE_ROLE_PROCESSOR:
                return []  # the storefront's own refund books it; the payout settles the money
            document = refund_normalise(obj, version_seconds=version)
            return [document] if document is not None else []
        if topic in (*PAYOUT_TOPICS, "payouts"):
            if obj.get("status") != "paid":
                return []
            transactions = payload.get("balance_transactions")
            if isinstance(transactions, dict):  # a saved `GET /v1/balance_transactions?payout=…` list object
                transactions = transactions.get("data")
            if transactions is None:
                with self.client(connection) as client:
                    transactions = self._balance_transactions(client, str(obj["id"]))
            return [payout_normalise(obj, transactions)]
        raise NormaliseError(f"Topic {topic!r} is not handled by Stripe.")

    def _processor_charge(self, charge: Mapping[str, Any], connection: Connection) -> list[Document]:
        """A processor charge books its fee at charge time: from the expanded balance transaction,
        or read from Stripe when the event carries only its id (webhooks do)."""
        balance_transaction = charge.get("balance_transaction")
        captured = bool(charge.get("captured")) and charge.get("status") == "succeeded"
        if captured and isinstance(balance_transaction, str) and balance_transaction:
            with self.client(connection) as client:
                balance_transaction = client.get(f"balance_transactions/{balance_transaction}")
        document = processor_charge_normalise(charge, balance_transaction=balance_transaction)
        return [document] if document is not None else []

    def _balance_transactions(self, client: VendorClient, payout_id: str) -> list[dict]:
        rows: list[dict] = []
        params: dict[str, Any] = {"payout": payout_id, "limit": PAGE_SIZE}
        while True:
            data = client.get("balance_transactions", params=params)
            page = data.get("data") if isinstance(data, dict) else None
            if not isinstance(page, list):
                raise NormaliseError(f"Payout {payout_id}: /v1/balance_transactions did not return a list.")
            rows.extend(page)
            if not data.get("has_more") or not page:
                return rows
            last = page[-1].get("id") if isinstance(page[-1], dict) else None
            if not last or last == params.get("starting_after"):  # a page that does not move on
                raise NormaliseError(f"Payout {payout_id}: Stripe returned the same balance transactions page again.")
            params["starting_after"] = last

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        if topic not in self.poll_topics:
            raise NormaliseError(f"Stripe cannot poll {topic!r}.")
        watermark = cursor.get("created_gte")
        if watermark is None and since is not None:
            watermark = int(since.timestamp())
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if watermark is not None:
            params["created[gte]"] = watermark
        if cursor.get("starting_after"):
            params["starting_after"] = cursor["starting_after"]
        if topic == "charges":
            params["expand[]"] = "data.balance_transaction"
        if topic == "payouts":
            params["status"] = "paid"
        data = client.get(topic, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise NormaliseError(f"/v1/{topic} did not return a list.")
        objects = data["data"]
        records = []
        for obj in objects:
            record = dict(obj)
            if topic == "payouts":
                record["balance_transactions"] = self._balance_transactions(client, str(obj["id"]))
            records.append(Record(topic, str(obj["id"]), body(record)))
        newest = max([cursor.get("newest") or 0, *(int(obj.get("created") or 0) for obj in objects)])
        if data.get("has_more") and objects:
            return Page(
                records,
                {"created_gte": watermark, "newest": newest, "starting_after": objects[-1]["id"]},
                done=False,
            )
        next_watermark = newest or watermark
        return Page(records, {"created_gte": next_watermark} if next_watermark else {}, done=True)

    def connection_test(self, *, connection: Connection) -> str:
        with self.client(connection) as client:
            balance = client.get("balance")
        available = ", ".join(
            f"{from_minor(item['amount'], item['currency'].upper())} {item['currency'].upper()}"
            for item in (balance or {}).get("available") or []
        )
        return f"Connected to Stripe; available balance {available or 'none'}."


adapter_register(StripeAdapter())
