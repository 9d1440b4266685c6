"""Stripe payloads → canonical documents: charges, refunds, payouts with their balance
transactions. Pure: the connection's role, a charge's balance transaction and a payout's
transactions are read before (`StripeAdapter.prefetch`) and handed in as `fetched`.

Stripe charges carry no item lines. A charge becomes an order with one line counted in the
currency's minor units (quantity = amount in minor units, unit price = one minor unit), so a
partial refund of any amount maps to an exact quantity and posting's pro-rata refund rule stays
exact. Amounts arrive in minor units and are converted with core.money (JPY 0, KWD 3 decimals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from commerce import documents as docs
from connectors.vendors.base import Document, NormaliseError
from connectors.vendors.common import currency_code, minor, require
from connectors.vendors.stripe.roles import STRIPE_ROLE_PROCESSOR
from core.money import from_minor

CHARGE_TOPICS = ("charge.succeeded", "charge.captured", "charge.updated", "charge.refunded")
REFUND_TOPICS = ("refund.created", "refund.updated", "charge.refund.updated")
PAYOUT_TOPICS = ("payout.paid", "payout.updated")
# Covered by the charge events of the same payment; stored and marked ignored, never lost.
COVERED_TOPICS = ("payment_intent.succeeded",)
BALANCE_TYPES = {
    "charge": docs.PAYOUT_CHARGE,
    "payment": docs.PAYOUT_CHARGE,
    "refund": docs.PAYOUT_REFUND,
    "payment_refund": docs.PAYOUT_REFUND,
    "adjustment": docs.PAYOUT_ADJUSTMENT,
    "dispute": docs.PAYOUT_ADJUSTMENT,
    "stripe_fee": docs.PAYOUT_FEE,
    "application_fee": docs.PAYOUT_FEE,
    "tax_fee": docs.PAYOUT_FEE,
    "reserve_transaction": docs.PAYOUT_RESERVE,
    "reserved_funds": docs.PAYOUT_RESERVE,
}


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
) -> tuple[tuple[docs.OrderLineDoc, ...], tuple[docs.DiscountDoc, ...], tuple[docs.ShippingLineDoc, ...]] | None:
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
            docs.OrderLineDoc(
                external_id=line_id,
                sku=str(item.get("product_code") or "")[:120],
                quantity=quantity,
                unit_price=unit_cost,
                title=str(item.get("product_description") or item.get("product_code") or "Stripe item")[:255],
                taxes=(docs.TaxLineDoc(jurisdiction=jurisdiction, rate=rate, amount=tax),) if tax else (),
            )
        )
        if discount:
            discounts.append(docs.DiscountDoc(amount=discount, code="level3", line_external_id=line_id))
    shipping_units = _level3_count(level3.get("shipping_amount"), "level3.shipping_amount", default=0)
    shipping = ()
    if shipping_units:
        shipping = (docs.ShippingLineDoc(f"{charge_id}:shipping", minor(shipping_units, currency), title="Shipping"),)
    return tuple(lines), tuple(discounts), shipping


def charge_normalise(charge: Mapping[str, Any], *, version_seconds: int | None = None) -> docs.CanonicalOrder:
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
            docs.PaymentDoc(
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
            docs.OrderLineDoc(
                external_id=f"{charge_id}:amount",
                sku="",
                quantity=amount_units,
                unit_price=from_minor(1, currency),
                title=str(charge.get("description") or charge.get("statement_descriptor") or "Stripe charge")[:255],
            ),
        )
        discounts, shipping = (), ()
    return docs.CanonicalOrder(
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
) -> docs.CanonicalProcessorCharge | None:
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
    return docs.CanonicalProcessorCharge(
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


def refund_normalise(refund: Mapping[str, Any], *, version_seconds: int | None = None) -> docs.CanonicalRefund | None:
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
    return docs.CanonicalRefund(
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


def payout_normalise(payout: Mapping[str, Any], transactions: list[Mapping[str, Any]]) -> docs.CanonicalPayout:
    payout_id = str(require(payout, "id"))
    currency = currency_code(payout.get("currency"))
    lines = []
    for transaction in transactions:
        kind = transaction.get("type")
        if kind in ("payout", "payout_cancel", "payout_failure"):
            continue
        # An unknown type is kept with Stripe's own type and booked to payout suspense.
        line_type = BALANCE_TYPES.get(kind, docs.PAYOUT_OTHER)
        lines.append(
            docs.PayoutLineDoc(
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
    return docs.CanonicalPayout(
        external_id=payout_id,
        source_version=2 if payout.get("status") == "paid" else 1,
        currency=currency,
        arrival_date=arrival,
        amount=minor(payout.get("amount"), currency),
        gateway="stripe",
        lines=tuple(lines),
    )


def event_object(topic: str, payload: Any) -> tuple[dict[str, Any], int | None]:
    """The object and the event's `created` (its version): polled records and saved API objects
    are the bare object."""
    if not isinstance(payload, dict):
        raise NormaliseError("The payload is not a JSON object.")
    if topic in ("charges", "refunds", "payouts") or payload.get("object") != "event":
        obj, version = payload, None
    else:
        obj, version = require(payload, "data", "object"), payload.get("created")
    if not isinstance(obj, dict):
        raise NormaliseError("data.object: is not an object.")
    return obj, version


def payout_transactions(payload: Mapping[str, Any]) -> Any:
    """A payout's balance transactions when the payload has them (None: they are read from Stripe)."""
    transactions = payload.get("balance_transactions")
    if isinstance(transactions, dict):  # a saved `GET /v1/balance_transactions?payout=…` list object
        transactions = transactions.get("data")
    return transactions


def needs_balance_transaction(charge: Mapping[str, Any]) -> bool:
    """A captured processor charge whose event carries only its balance transaction's id."""
    captured = bool(charge.get("captured")) and charge.get("status") == "succeeded"
    balance_transaction = charge.get("balance_transaction")
    return captured and isinstance(balance_transaction, str) and bool(balance_transaction)


def _charge_documents(obj: dict[str, Any], version: int | None, fetched: Mapping[str, Any]) -> list[Document]:
    if fetched.get("role") == STRIPE_ROLE_PROCESSOR:
        # A processor charge books its fee at charge time: from the expanded balance transaction,
        # or the one read from Stripe when the event carries only its id (webhooks do).
        balance_transaction = fetched.get("balance_transaction", obj.get("balance_transaction"))
        document = processor_charge_normalise(obj, balance_transaction=balance_transaction)
        return [document] if document is not None else []
    documents: list[Document] = [charge_normalise(obj, version_seconds=version)]
    for refund in (obj.get("refunds") or {}).get("data") or []:
        document = refund_normalise(refund)
        if document is not None:
            documents.append(document)
    return documents


def normalise(*, topic: str, payload: Any, fetched: Mapping[str, Any]) -> list[Document]:
    """The event's documents. `fetched` holds the connection's `role`, a processor charge's
    `balance_transaction` and a payout's `transactions`."""
    obj, version = event_object(topic, payload)
    if topic in COVERED_TOPICS:
        return []
    if topic in (*CHARGE_TOPICS, "charges"):
        return _charge_documents(obj, version, fetched)
    if topic in (*REFUND_TOPICS, "refunds"):
        if fetched.get("role") == STRIPE_ROLE_PROCESSOR:
            return []  # the storefront's own refund books it; the payout settles the money
        document = refund_normalise(obj, version_seconds=version)
        return [document] if document is not None else []
    if topic in (*PAYOUT_TOPICS, "payouts"):
        if obj.get("status") != "paid":
            return []
        transactions = fetched.get("transactions", payout_transactions(payload))
        return [payout_normalise(obj, transactions)]
    raise NormaliseError(f"Topic {topic!r} is not handled by Stripe.")
