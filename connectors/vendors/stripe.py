"""Stripe (API version 2024-06-20): charges, refunds, payouts with their balance transactions.

Webhooks: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<raw body>")>`,
any v1 may match (secret rotation), timestamp within 5 minutes. The event envelope's `type` is the
topic and `data.object.id` the external id.

Stripe charges carry no item lines. A charge becomes an order with one line counted in the
currency's minor units (quantity = amount in minor units, unit price = one minor unit), so a
partial refund of any amount maps to an exact quantity and posting's pro-rata refund rule stays
exact. Amounts arrive in minor units and are converted with posting.money (JPY 0, KWD 3 decimals).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from commerce.documents import (
    PAYOUT_ADJUSTMENT,
    PAYOUT_CHARGE,
    PAYOUT_FEE,
    PAYOUT_OTHER,
    PAYOUT_REFUND,
    PAYOUT_RESERVE,
    CanonicalOrder,
    CanonicalPayout,
    CanonicalRefund,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
)
from connectors.http import VendorClient
from connectors.models import Connection
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
from posting.money import from_minor

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


def charge_normalise(charge: Mapping[str, Any], *, version_seconds: int | None = None) -> CanonicalOrder:
    charge_id = str(require(charge, "id"))
    currency = currency_code(charge.get("currency"))
    captured = bool(charge.get("captured")) and charge.get("status") == "succeeded"
    amount_units = charge.get("amount_captured") if captured else charge.get("amount")
    if not isinstance(amount_units, int) or amount_units <= 0:
        raise NormaliseError(f"Charge {charge_id} has no positive amount.")
    created = dt.datetime.fromtimestamp(require(charge, "created"), tz=dt.UTC)
    fee = Decimal(0)
    balance_transaction = charge.get("balance_transaction")
    if isinstance(balance_transaction, dict) and isinstance(balance_transaction.get("fee"), int):
        fee = minor(balance_transaction["fee"], currency, field="balance_transaction.fee")
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
    return CanonicalOrder(
        external_id=charge_id,
        source_version=(version_seconds or int(created.timestamp())) * 1000,
        currency=currency,
        placed_at=created,
        paid_at=created if captured else None,
        channel="stripe",
        customer_ref=_object_id(charge.get("customer"))[:120],
        lines=(
            OrderLineDoc(
                external_id=f"{charge_id}:amount",
                sku="",
                quantity=amount_units,
                unit_price=from_minor(1, currency),
                title=str(charge.get("description") or charge.get("statement_descriptor") or "Stripe charge")[:255],
            ),
        ),
        payments=payments,
        vendor_total=minor(amount_units, currency),
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
        lines=(RefundLineDoc(f"{charge_id}:amount", units),),
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
    config_fields = ("api_version",)

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
            documents: list[Document] = [charge_normalise(obj, version_seconds=version)]
            for refund in (obj.get("refunds") or {}).get("data") or []:
                document = refund_normalise(refund)
                if document is not None:
                    documents.append(document)
            return documents
        if topic in (*REFUND_TOPICS, "refunds"):
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
