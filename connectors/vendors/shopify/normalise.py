"""Shopify (Admin REST API 2025-07) payloads → canonical documents: orders (with their refunds),
refunds, Shopify Payments payouts, inventory levels. Pure: what an event needs from the network or
the database is fetched before (`ShopifyAdapter.prefetch`) and handed in as `fetched`.

Money traps handled: `taxes_included`; shop vs presentment currency (amounts are read from
`*_set.shop_money`, presentment totals kept for reference); marketplace-collected tax
(`channel_liable: true` → collected by the marketplace); Shopify already allocates order-level
discounts to lines (`discount_allocations`), so every discount arrives line-level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from commerce import documents as docs
from connectors.vendors.base import Document, NormaliseError
from connectors.vendors.common import (
    currency_code,
    destination,
    line_level_total,
    money,
    optional_timestamp,
    require,
    timestamp,
    version,
)
from connectors.vendors.shopify.address import order_ship_to
from connectors.vendors.shopify.returns import RETURN_TOPICS, return_normalise
from core.money import allocate

INVENTORY_TOPIC = "inventory_levels/update"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled")
PAID_STATUSES = {"paid", "partially_refunded", "refunded", "partially_paid"}
GIFT_CARD_GATEWAYS = {"gift_card", "shopify_gift_card"}
# Shopify Payments balance transaction types (REST `type`, GraphQL `ShopifyPaymentsTransactionType`
# in lower case) Tillbridge books to a named role. Any other type becomes an `other` line that keeps
# Shopify's type and is booked to payout suspense: one unknown line never refuses the whole payout.
BALANCE_TYPES = {
    "charge": docs.PAYOUT_CHARGE,
    "refund": docs.PAYOUT_REFUND,
    "adjustment": docs.PAYOUT_ADJUSTMENT,
    "charge_adjustment": docs.PAYOUT_ADJUSTMENT,
    "refund_adjustment": docs.PAYOUT_ADJUSTMENT,
    "credit": docs.PAYOUT_ADJUSTMENT,  # a balance adjustment in the merchant's favour (or its reversal)
    "debit": docs.PAYOUT_ADJUSTMENT,  # a balance adjustment against the merchant (or its reversal)
    "shop_cash_credit": docs.PAYOUT_ADJUSTMENT,
    "dispute": docs.PAYOUT_ADJUSTMENT,
    "dispute_withdrawal": docs.PAYOUT_ADJUSTMENT,
    "dispute_reversal": docs.PAYOUT_ADJUSTMENT,
    "chargeback": docs.PAYOUT_ADJUSTMENT,
    "chargeback_reversal": docs.PAYOUT_ADJUSTMENT,
    "payout_failure": docs.PAYOUT_ADJUSTMENT,  # a failed earlier payout's money back in the balance
    "payout_cancellation": docs.PAYOUT_ADJUSTMENT,
    "transfer": docs.PAYOUT_ADJUSTMENT,  # another payout's movement (this payout's own transfer row is skipped)
    "transfer_failure": docs.PAYOUT_ADJUSTMENT,
    "transfer_cancel": docs.PAYOUT_ADJUSTMENT,
    "reserve": docs.PAYOUT_RESERVE,
    "reserved_funds": docs.PAYOUT_RESERVE,
    "reserved_funds_withdrawal": docs.PAYOUT_RESERVE,
    "reserved_funds_reversal": docs.PAYOUT_RESERVE,
    "chargeback_fee": docs.PAYOUT_FEE,
    "chargeback_fee_refund": docs.PAYOUT_FEE,
    "application_fee_refund": docs.PAYOUT_FEE,
}
# The payout's own row in its balance transactions (REST `payout`; GraphQL lists it as a `transfer`
# whose source is the payout itself).
PAYOUT_ROW_TYPES = ("payout",)
# `summary` of a payout (GET payouts/{id}.json) when its balance transactions are not at hand.
SUMMARY_KINDS = (
    ("charges", docs.PAYOUT_CHARGE),
    ("refunds", docs.PAYOUT_REFUND),
    ("adjustments", docs.PAYOUT_ADJUSTMENT),
    ("reserved_funds", docs.PAYOUT_RESERVE),
    ("retried_payouts", docs.PAYOUT_ADJUSTMENT),
)


def _shop_amount(item: Mapping[str, Any], key: str, currency: str) -> Decimal:
    """Prefer `<key>_set.shop_money.amount` (always the shop's currency) over the bare `<key>`."""
    money_set = item.get(f"{key}_set") or {}
    shop_money = money_set.get("shop_money") if isinstance(money_set, dict) else None
    if isinstance(shop_money, dict) and shop_money.get("amount") is not None:
        if shop_money.get("currency_code") and shop_money["currency_code"] != currency:
            raise NormaliseError(f"{key}_set.shop_money is in {shop_money['currency_code']}, the shop in {currency}.")
        return money(shop_money["amount"], currency, field=key)
    return money(item.get(key), currency, field=key)


def _taxes(item: Mapping[str, Any], currency: str) -> tuple[docs.TaxLineDoc, ...]:
    taxes = []
    for tax in item.get("tax_lines") or []:
        amount = _shop_amount(tax, "price", currency)
        if amount == 0:
            continue
        taxes.append(
            docs.TaxLineDoc(
                jurisdiction=str(tax.get("title") or "tax")[:80],
                rate=Decimal(str(tax.get("rate") or 0)),
                amount=amount,
                collected_by=docs.COLLECTED_BY_MARKETPLACE if tax.get("channel_liable") else docs.COLLECTED_BY_MERCHANT,
            )
        )
    return tuple(taxes)


def _discount_application(order: Mapping[str, Any], index: Any) -> Mapping[str, Any]:
    applications = order.get("discount_applications") or []
    if isinstance(index, int) and 0 <= index < len(applications):
        return applications[index]
    return {}


def _order_level_taxes(
    order: Mapping[str, Any], lines: list[docs.OrderLineDoc], currency: str
) -> list[docs.OrderLineDoc]:
    """An order whose taxes are only at order level (older orders, Shopify's SDK samples): each
    order tax line is spread over the lines by gross amount (largest remainder), so the tax is
    posted to its jurisdiction instead of silently dropped."""
    order_taxes = _taxes(order, currency)
    if not order_taxes:
        return lines
    weights = [line.gross for line in lines]
    if not sum(weights):
        raise NormaliseError("tax_lines: the order has tax but no line amount to carry it.")
    per_line: list[list[docs.TaxLineDoc]] = [[] for _ in lines]
    for tax in order_taxes:
        for index, amount in enumerate(allocate(tax.amount, weights, currency)):
            if amount:
                per_line[index].append(replace(tax, amount=amount))
    return [replace(line, taxes=tuple(taxes)) for line, taxes in zip(lines, per_line, strict=True)]


def _line_items(order: Mapping[str, Any], currency: str) -> tuple[list[docs.OrderLineDoc], list[docs.DiscountDoc]]:
    """The order's lines and the discounts Shopify already allocated to each of them."""
    lines: list[docs.OrderLineDoc] = []
    discounts: list[docs.DiscountDoc] = []
    for item in order.get("line_items") or []:
        line_id = str(require(item, "id"))
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            raise NormaliseError(f"line_items[{line_id}].quantity: {quantity!r} is not a positive integer.")
        lines.append(
            docs.OrderLineDoc(
                external_id=line_id,
                sku=str(item.get("sku") or "")[:120],
                quantity=quantity,
                unit_price=_shop_amount(item, "price", currency),
                product_category=str(item.get("product_type") or "")[:80],
                title=str(item.get("title") or item.get("name") or "")[:255],
                taxes=_taxes(item, currency),
            )
        )
        for allocation in item.get("discount_allocations") or []:
            amount = _shop_amount(allocation, "amount", currency)
            if amount == 0:
                continue
            application = _discount_application(order, allocation.get("discount_application_index"))
            discounts.append(
                docs.DiscountDoc(
                    amount=amount,
                    code=str(application.get("code") or application.get("title") or "")[:80],
                    line_external_id=line_id,
                )
            )
    if lines and not any(line.taxes for line in lines):
        lines = _order_level_taxes(order, lines, currency)
    return lines, discounts


def _shipping_lines(order: Mapping[str, Any], currency: str) -> list[docs.ShippingLineDoc]:
    shipping_lines = []
    for position, shipping in enumerate(order.get("shipping_lines") or []):
        price = _shop_amount(shipping, "price", currency)
        shipping_discount = sum(
            (_shop_amount(allocation, "amount", currency) for allocation in shipping.get("discount_allocations") or []),
            Decimal(0),
        )
        shipping_lines.append(
            docs.ShippingLineDoc(
                # Older orders' shipping lines carry no id (Shopify's own SDK samples): their position is stable.
                external_id=str(shipping.get("id") or f"shipping-{position}"),
                amount=price - shipping_discount,
                code=str(shipping.get("code") or "")[:60],
                title=str(shipping.get("title") or "")[:120],
                taxes=_taxes(shipping, currency),
            )
        )
    return shipping_lines


def _fulfilments(order: Mapping[str, Any]) -> list[docs.FulfilmentDoc]:
    """The successful fulfilments (pending, cancelled and failed ones move no goods)."""
    fulfilments = []
    for fulfilment in order.get("fulfillments") or []:
        if fulfilment.get("status") not in (None, "success"):
            continue
        fulfilments.append(
            docs.FulfilmentDoc(
                external_id=str(require(fulfilment, "id")),
                fulfilled_at=timestamp(require(fulfilment, "created_at"), field="fulfillments.created_at"),
                lines=tuple(
                    (str(require(line, "id")), int(line.get("quantity") or 0))
                    for line in fulfilment.get("line_items") or []
                ),
                location=str(fulfilment.get("location_id") or ""),
            )
        )
    return fulfilments


def _presentment(order: Mapping[str, Any], currency: str) -> tuple[str, dict[str, str]]:
    """The presentment currency and totals, kept for reference when they differ from the shop's."""
    presentment_currency = order.get("presentment_currency") or ""
    if presentment_currency in ("", currency):
        return "", {}
    presentment_amounts = {}
    total_set = order.get("total_price_set") or {}
    if isinstance(total_set, dict) and isinstance(total_set.get("presentment_money"), dict):
        presentment_amounts["total"] = str(total_set["presentment_money"].get("amount"))
    return presentment_currency, presentment_amounts


def order_normalise(order: Mapping[str, Any], *, shop_domain: str = "") -> docs.CanonicalOrder:
    currency = currency_code(order.get("currency"), field="currency")
    order_id = str(require(order, "id"))
    lines, discounts = _line_items(order, currency)
    shipping_lines = _shipping_lines(order, currency)
    updated_at = timestamp(order.get("updated_at") or order.get("created_at"), field="updated_at")
    placed_at = timestamp(require(order, "created_at"), field="created_at")
    paid_at = None
    if (order.get("financial_status") or "") in PAID_STATUSES:
        paid_at = optional_timestamp(order.get("processed_at"), field="processed_at") or placed_at
    fulfilments = _fulfilments(order)
    fulfilled_at = (
        max(f.fulfilled_at for f in fulfilments)
        if order.get("fulfillment_status") == "fulfilled" and fulfilments
        else None
    )
    vendor_total = _shop_amount(order, "total_price", currency) if order.get("total_price") is not None else None
    presentment_currency, presentment_amounts = _presentment(order, currency)
    document = docs.CanonicalOrder(
        external_id=order_id,
        source_version=version(updated_at),
        currency=currency,
        placed_at=placed_at,
        lines=tuple(lines),
        channel=str(order.get("source_name") or "")[:60],
        store=str(order.get("location_id") or shop_domain or "")[:60],
        paid_at=paid_at,
        fulfilled_at=fulfilled_at,
        cancelled_at=optional_timestamp(order.get("cancelled_at"), field="cancelled_at"),
        customer_ref=str((order.get("customer") or {}).get("id") or "")[:120],
        taxes_included=bool(order.get("taxes_included")),
        discounts=tuple(discounts),
        shipping_lines=tuple(shipping_lines),
        fulfilments=tuple(fulfilments),
        presentment_currency=presentment_currency,
        presentment_amounts=presentment_amounts,
        vendor_total=vendor_total,
        **destination(
            (order.get("shipping_address") or {}).get("country_code"),
            (order.get("shipping_address") or {}).get("province_code"),
        ),
    )
    if paid_at is None:
        return document
    return _with_payments(document, order)


def _with_payments(document: docs.CanonicalOrder, order: Mapping[str, Any]) -> docs.CanonicalOrder:
    """The order's REST payload names its gateways but not the split between them; the amount is
    the line-level total (what posting trusts), the vendor's own total is kept to flag differences.
    An order paid partly by gift card is split by `gift_card_split` once its transactions are read."""
    gateways = _gateway_names(order)
    card_gateways = [name for name in gateways if name not in GIFT_CARD_GATEWAYS]
    gateway = card_gateways[0] if card_gateways else (gateways[0] if gateways else docs.DEFAULT_GATEWAY)
    total = line_level_total(document)
    payment = docs.PaymentDoc(
        external_id=f"{document.external_id}:payment",
        gateway=gateway[:60],
        amount=total,
        method="card" if gateway == "shopify_payments" else "",
        is_gift_card=gateway in GIFT_CARD_GATEWAYS,
    )
    return replace(document, payments=(payment,))


def _gateway_names(order: Mapping[str, Any]) -> list[str]:
    """The order's gateway labels without the empty ones Shopify sends for manual and draft orders
    (`payment_gateway_names: [""]`); no label at all means the default clearing gateway."""
    names = order.get("payment_gateway_names")
    if not isinstance(names, list):
        return []
    return [str(name).strip() for name in names if isinstance(name, str | int) and str(name).strip()]


def needs_transactions(order: Mapping[str, Any]) -> bool:
    """A paid order (one `order_normalise` gives a payment) that names a gift card next to another
    gateway: only its transactions say how much each paid, and a gift card's share is a liability
    released, not card money to clear."""
    gateways = set(_gateway_names(order))
    paid = order.get("financial_status") in PAID_STATUSES
    return paid and bool(gateways & GIFT_CARD_GATEWAYS) and bool(gateways - GIFT_CARD_GATEWAYS)


def gift_card_split(document: docs.CanonicalOrder, transactions: Any) -> docs.CanonicalOrder:
    """Split the order's payment into the gift-card share (successful gift-card sales and captures,
    in shop currency) and the rest on the card gateway. More gift card than the order is an error."""
    if not isinstance(transactions, list):
        raise NormaliseError(f"Order {document.external_id}: transactions.json did not return a list.")
    currency = document.currency
    gift = Decimal(0)
    for transaction in transactions:
        if not isinstance(transaction, dict):
            raise NormaliseError(f"Order {document.external_id}: a transaction is not an object.")
        settled = transaction.get("kind") in ("sale", "capture") and transaction.get("status") == "success"
        if settled and str(transaction.get("gateway") or "") in GIFT_CARD_GATEWAYS:
            gift += money(transaction.get("amount"), currency, field=f"transaction {transaction.get('id')} amount")
    [payment] = document.payments
    if gift > payment.amount:
        raise NormaliseError(
            f"Order {document.external_id}: gift cards paid {gift} {currency}, more than the order's {payment.amount}."
        )
    payments = [replace(payment, amount=payment.amount - gift)] if payment.amount - gift else []
    if gift:
        payments.append(
            docs.PaymentDoc(
                external_id=f"{document.external_id}:gift_card",
                gateway="gift_card",
                amount=gift,
                method="gift_card",
                is_gift_card=True,
            )
        )
    return replace(document, payments=tuple(payments))


def refund_normalise(refund: Mapping[str, Any], *, currency: str, taxes_included: bool) -> docs.CanonicalRefund:
    refund_id = str(require(refund, "id"))
    lines = []
    for line in refund.get("refund_line_items") or []:
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            continue  # a zero-quantity line refunds money only; Shopify sends it for adjustments
        lines.append(
            docs.RefundLineDoc(
                line_external_id=str(require(line, "line_item_id")),
                quantity=quantity,
                restock=(line.get("restock_type") or "no_restock") != "no_restock",
            )
        )
    shipping = Decimal(0)
    for adjustment in refund.get("order_adjustments") or []:
        if adjustment.get("kind") != "shipping_refund":
            continue
        amount = -_shop_amount(adjustment, "amount", currency)
        tax = -_shop_amount(adjustment, "tax_amount", currency) if adjustment.get("tax_amount") is not None else 0
        shipping += amount + (tax if taxes_included else 0)
    transactions = [
        t for t in refund.get("transactions") or [] if t.get("kind") == "refund" and t.get("status") == "success"
    ]
    amount = sum((_shop_amount(t, "amount", currency) for t in transactions), Decimal(0)) if transactions else None
    gateway = (str(transactions[0].get("gateway") or "").strip() or docs.DEFAULT_GATEWAY) if transactions else ""
    processed_at = timestamp(refund.get("processed_at") or refund.get("created_at"), field="processed_at")
    return docs.CanonicalRefund(
        external_id=refund_id,
        order_external_id=str(require(refund, "order_id")),
        source_version=version(timestamp(require(refund, "created_at"), field="created_at")),
        currency=currency,
        processed_at=processed_at,
        lines=tuple(lines),
        shipping=shipping,
        gateway=gateway[:60],
        is_gift_card=gateway in GIFT_CARD_GATEWAYS,
        amount=amount,
        reason=str(refund.get("note") or "")[:255],
    )


def _balance_line(transaction: Any, *, index: int, payout_id: str, currency: str) -> docs.PayoutLineDoc | None:
    """One balance transaction as a payout line; None for the payout's own row. Amount and fee keep
    Shopify's signs (a refunded fee is a negative fee), so amount - fee is always Shopify's net."""
    field = f"transactions[{index}]"
    if not isinstance(transaction, dict):
        raise NormaliseError(f"{field}: {transaction!r} is not a balance transaction.")
    kind = str(transaction.get("type") or "").strip().lower()
    if kind in PAYOUT_ROW_TYPES or (kind == "transfer" and str(transaction.get("source_id")) == payout_id):
        return None
    line_type = BALANCE_TYPES.get(kind, docs.PAYOUT_OTHER)
    reference = transaction.get("source_order_id") if line_type == docs.PAYOUT_CHARGE else transaction.get("source_id")
    fee = transaction.get("fee")
    return docs.PayoutLineDoc(
        type=line_type,
        amount=money(transaction.get("amount"), currency, field=f"{field}.amount"),
        fee=money("0" if fee is None else fee, currency, field=f"{field}.fee"),
        reference=str(reference or "")[:120],
        external_id=str(transaction.get("id") or "")[:120],
        description=str(transaction.get("source_type") or kind)[:255],
        vendor_type=kind[:60],
    )


def _summary_lines(payout: Mapping[str, Any], *, payout_id: str, currency: str) -> list[docs.PayoutLineDoc]:
    """A payout as GET payouts/{id}.json returns it, without its balance transactions: one line per
    non-zero summary kind (gross and fee as Shopify signs them, so they net to the payout)."""
    summary = payout.get("summary")
    if not isinstance(summary, dict):
        raise NormaliseError("payout: has neither transactions nor a summary to build its lines from.")
    lines = []
    for kind, line_type in SUMMARY_KINDS:
        gross = money(summary.get(f"{kind}_gross_amount") or "0", currency, field=f"payout.summary.{kind}_gross_amount")
        fee = money(summary.get(f"{kind}_fee_amount") or "0", currency, field=f"payout.summary.{kind}_fee_amount")
        if gross or fee:
            lines.append(
                docs.PayoutLineDoc(
                    type=line_type,
                    amount=gross,
                    fee=fee,
                    external_id=f"{payout_id}:{kind}",
                    description=f"Payout summary: {kind.replace('_', ' ')}",
                    vendor_type=f"summary:{kind}",
                )
            )
    return lines


def payout_normalise(record: Mapping[str, Any]) -> docs.CanonicalPayout:
    """A Shopify Payments payout in any of the shapes its API returns: `{"payout": {...},
    "transactions": [...]}` (the poller's record: the payout and its balance transactions),
    `{"payout": {...}}` (GET payouts/{id}.json: lines from its summary), or the bare payout object;
    `transactions` may also be the balance transactions response `{"transactions": [...]}`."""
    payout = record.get("payout") if isinstance(record.get("payout"), dict) else record
    payout_id = str(require(payout, "id"))
    currency = currency_code(payout.get("currency"), field="payout.currency")
    transactions = record.get("transactions") if payout is not record else None
    if isinstance(transactions, dict):
        transactions = transactions.get("transactions")
    if transactions is None:
        lines = _summary_lines(payout, payout_id=payout_id, currency=currency)
    elif isinstance(transactions, list):
        lines = [
            line
            for index, transaction in enumerate(transactions)
            if (line := _balance_line(transaction, index=index, payout_id=payout_id, currency=currency)) is not None
        ]
    else:
        raise NormaliseError(f"transactions: {type(transactions).__name__} is not a list of balance transactions.")
    arrival = payout.get("date")
    try:
        arrival_date = dt.date.fromisoformat(str(arrival))
    except ValueError:
        raise NormaliseError(f"payout.date: {arrival!r} is not a date.") from None
    return docs.CanonicalPayout(
        external_id=payout_id,
        source_version=1 if payout.get("status") != "paid" else 2,
        currency=currency,
        arrival_date=arrival_date,
        amount=money(payout.get("amount"), currency, field="payout.amount"),
        gateway="shopify_payments",
        lines=tuple(lines),
    )


def inventory_level_normalise(level: Mapping[str, Any], *, sku: str) -> docs.CanonicalInventoryLevel | None:
    """An InventoryLevel (webhook `inventory_levels/update` or `inventory_levels.json`). Shopify's
    `available` already excludes quantities committed to its own open orders; None when the item
    is not tracked at the location (`available: null`)."""
    item_id = str(require(level, "inventory_item_id"))
    location_id = str(require(level, "location_id"))
    available = level.get("available")
    if available is None:
        return None
    if isinstance(available, bool) or not isinstance(available, int):
        raise NormaliseError(f"available: {available!r} is not a whole number.")
    if not sku:
        raise NormaliseError(f"Inventory item {item_id} has no SKU in Shopify; give the variant a SKU.")
    updated_at = timestamp(require(level, "updated_at"), field="updated_at")
    return docs.CanonicalInventoryLevel(
        location_external_id=location_id,
        sku=sku[:120],
        on_hand=Decimal(available),
        source_version=version(updated_at),
        external_id=item_id,
        updated_at=updated_at,
        net_of_source_orders=True,
    )


def resource(topic: str, payload: Any) -> dict[str, Any]:
    """The order or refund itself, also from a resource as the REST API returns it
    (GET orders/{id}.json: {"order": {...}})."""
    if not isinstance(payload, dict):
        raise NormaliseError("The payload is not a JSON object.")
    for key in ("order", "refund"):
        if payload.get("id") is None and isinstance(payload.get(key), dict) and key in topic:
            payload = payload[key]
    return payload


def ship_to(*, topic: str, payload: Any) -> docs.ShipToDoc | None:
    """The shipping address of an order payload (webhook body or saved API resource), or None."""
    if topic not in ORDER_TOPICS or not isinstance(payload, dict):
        return None
    return order_ship_to(resource(topic, payload))


def normalise(*, topic: str, payload: Any, fetched: Mapping[str, Any]) -> list[Document]:
    """The event's documents. `fetched` holds the order's `transactions` (gift-card split), the
    stored `order` a refund webhook belongs to (its currency) and an inventory level's `sku`."""
    payload = resource(topic, payload)
    if topic in RETURN_TOPICS:
        return [return_normalise(payload)]
    if topic in ORDER_TOPICS:
        order = order_normalise(payload, shop_domain="")
        if needs_transactions(payload):
            order = gift_card_split(order, fetched.get("transactions"))
        refunds = [
            refund_normalise(refund, currency=order.currency, taxes_included=order.taxes_included)
            for refund in payload.get("refunds") or []
        ]
        return [order, *refunds]
    if topic == "refunds/create":
        # The refund webhook carries no currency: it is the stored order's.
        stored = fetched["order"]
        return [refund_normalise(payload, currency=stored["currency"], taxes_included=stored["taxes_included"])]
    if topic == "payouts":
        return [payout_normalise(payload)]
    if topic == INVENTORY_TOPIC:
        document = inventory_level_normalise(payload, sku=fetched["sku"])
        return [document] if document is not None else []
    raise NormaliseError(f"Topic {topic!r} is not handled by Shopify.")
