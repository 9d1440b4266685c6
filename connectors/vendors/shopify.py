"""Shopify (Admin REST API 2025-07): orders (with their refunds), refunds, Shopify Payments payouts.

Webhooks: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app client secret, raw body)); topic in
`X-Shopify-Topic`. Polling: `GET /orders.json?status=any&updated_at_min=…&order=updated_at asc`
paged by the `Link: rel="next"` page_info URL; payouts from `/shopify_payments/payouts.json`
with their balance transactions.

Money traps handled: `taxes_included`; shop vs presentment currency (amounts are read from
`*_set.shop_money`, presentment totals kept for reference); marketplace-collected tax
(`channel_liable: true` → collected by the marketplace); Shopify already allocates order-level
discounts to lines (`discount_allocations`), so every discount arrives line-level."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from commerce.documents import (
    COLLECTED_BY_MARKETPLACE,
    COLLECTED_BY_MERCHANT,
    DEFAULT_GATEWAY,
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
    FulfilmentDoc,
    OrderLineDoc,
    PaymentDoc,
    PayoutLineDoc,
    RefundLineDoc,
    ShippingLineDoc,
    TaxLineDoc,
)
from connectors.http import UnsafeUrl, VendorClient
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
from connectors.vendors.common import (
    body,
    currency_code,
    line_level_total,
    money,
    optional_timestamp,
    require,
    timestamp,
    version,
)
from connectors.vendors.shopify_returns import RETURN_TOPICS, return_normalise
from portal import netsafety
from posting.money import allocate

API_VERSION = "2025-07"
SHOP_DOMAIN = netsafety.SHOPIFY_SHOP_DOMAIN
API_VERSION_FORMAT = re.compile(r"^(\d{4}-\d{2}|unstable)$")
INVENTORY_TOPIC = "inventory_levels/update"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled")
PAID_STATUSES = {"paid", "partially_refunded", "refunded", "partially_paid"}
GIFT_CARD_GATEWAYS = {"gift_card", "shopify_gift_card"}
PAGE_SIZE = 250
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
# Shopify Payments balance transaction types (REST `type`, GraphQL `ShopifyPaymentsTransactionType`
# in lower case) Tillbridge books to a named role. Any other type becomes an `other` line that keeps
# Shopify's type and is booked to payout suspense: one unknown line never refuses the whole payout.
BALANCE_TYPES = {
    "charge": PAYOUT_CHARGE,
    "refund": PAYOUT_REFUND,
    "adjustment": PAYOUT_ADJUSTMENT,
    "charge_adjustment": PAYOUT_ADJUSTMENT,
    "refund_adjustment": PAYOUT_ADJUSTMENT,
    "credit": PAYOUT_ADJUSTMENT,  # a balance adjustment in the merchant's favour (or its reversal)
    "debit": PAYOUT_ADJUSTMENT,  # a balance adjustment against the merchant (or its reversal)
    "shop_cash_credit": PAYOUT_ADJUSTMENT,
    "dispute": PAYOUT_ADJUSTMENT,
    "dispute_withdrawal": PAYOUT_ADJUSTMENT,
    "dispute_reversal": PAYOUT_ADJUSTMENT,
    "chargeback": PAYOUT_ADJUSTMENT,
    "chargeback_reversal": PAYOUT_ADJUSTMENT,
    "payout_failure": PAYOUT_ADJUSTMENT,  # a failed earlier payout's money back in the balance
    "payout_cancellation": PAYOUT_ADJUSTMENT,
    "transfer": PAYOUT_ADJUSTMENT,  # another payout's movement (this payout's own transfer row is skipped)
    "transfer_failure": PAYOUT_ADJUSTMENT,
    "transfer_cancel": PAYOUT_ADJUSTMENT,
    "reserve": PAYOUT_RESERVE,
    "reserved_funds": PAYOUT_RESERVE,
    "reserved_funds_withdrawal": PAYOUT_RESERVE,
    "reserved_funds_reversal": PAYOUT_RESERVE,
    "chargeback_fee": PAYOUT_FEE,
    "chargeback_fee_refund": PAYOUT_FEE,
    "application_fee_refund": PAYOUT_FEE,
}
# The payout's own row in its balance transactions (REST `payout`; GraphQL lists it as a `transfer`
# whose source is the payout itself).
PAYOUT_ROW_TYPES = ("payout",)
# `summary` of a payout (GET payouts/{id}.json) when its balance transactions are not at hand.
SUMMARY_KINDS = (
    ("charges", PAYOUT_CHARGE),
    ("refunds", PAYOUT_REFUND),
    ("adjustments", PAYOUT_ADJUSTMENT),
    ("reserved_funds", PAYOUT_RESERVE),
    ("retried_payouts", PAYOUT_ADJUSTMENT),
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


def _taxes(item: Mapping[str, Any], currency: str) -> tuple[TaxLineDoc, ...]:
    taxes = []
    for tax in item.get("tax_lines") or []:
        amount = _shop_amount(tax, "price", currency)
        if amount == 0:
            continue
        taxes.append(
            TaxLineDoc(
                jurisdiction=str(tax.get("title") or "tax")[:80],
                rate=Decimal(str(tax.get("rate") or 0)),
                amount=amount,
                collected_by=COLLECTED_BY_MARKETPLACE if tax.get("channel_liable") else COLLECTED_BY_MERCHANT,
            )
        )
    return tuple(taxes)


def _discount_application(order: Mapping[str, Any], index: Any) -> Mapping[str, Any]:
    applications = order.get("discount_applications") or []
    if isinstance(index, int) and 0 <= index < len(applications):
        return applications[index]
    return {}


def _order_level_taxes(order: Mapping[str, Any], lines: list[OrderLineDoc], currency: str) -> list[OrderLineDoc]:
    """An order whose taxes are only at order level (older orders, Shopify's SDK samples): each
    order tax line is spread over the lines by gross amount (largest remainder), so the tax is
    posted to its jurisdiction instead of silently dropped."""
    from dataclasses import replace

    order_taxes = _taxes(order, currency)
    if not order_taxes:
        return lines
    weights = [line.gross for line in lines]
    if not sum(weights):
        raise NormaliseError("tax_lines: the order has tax but no line amount to carry it.")
    per_line: list[list[TaxLineDoc]] = [[] for _ in lines]
    for tax in order_taxes:
        for index, amount in enumerate(allocate(tax.amount, weights, currency)):
            if amount:
                per_line[index].append(replace(tax, amount=amount))
    return [replace(line, taxes=tuple(taxes)) for line, taxes in zip(lines, per_line, strict=True)]


def order_normalise(order: Mapping[str, Any], *, shop_domain: str = "") -> CanonicalOrder:
    currency = currency_code(order.get("currency"), field="currency")
    order_id = str(require(order, "id"))
    lines: list[OrderLineDoc] = []
    discounts: list[DiscountDoc] = []
    for item in order.get("line_items") or []:
        line_id = str(require(item, "id"))
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            raise NormaliseError(f"line_items[{line_id}].quantity: {quantity!r} is not a positive integer.")
        lines.append(
            OrderLineDoc(
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
                DiscountDoc(
                    amount=amount,
                    code=str(application.get("code") or application.get("title") or "")[:80],
                    line_external_id=line_id,
                )
            )
    if lines and not any(line.taxes for line in lines):
        lines = _order_level_taxes(order, lines, currency)
    shipping_lines = []
    for position, shipping in enumerate(order.get("shipping_lines") or []):
        price = _shop_amount(shipping, "price", currency)
        shipping_discount = sum(
            (_shop_amount(allocation, "amount", currency) for allocation in shipping.get("discount_allocations") or []),
            Decimal(0),
        )
        shipping_lines.append(
            ShippingLineDoc(
                # Older orders' shipping lines carry no id (Shopify's own SDK samples): their position is stable.
                external_id=str(shipping.get("id") or f"shipping-{position}"),
                amount=price - shipping_discount,
                code=str(shipping.get("code") or "")[:60],
                title=str(shipping.get("title") or "")[:120],
                taxes=_taxes(shipping, currency),
            )
        )
    updated_at = timestamp(order.get("updated_at") or order.get("created_at"), field="updated_at")
    placed_at = timestamp(require(order, "created_at"), field="created_at")
    financial_status = order.get("financial_status") or ""
    paid_at = None
    if financial_status in PAID_STATUSES:
        paid_at = optional_timestamp(order.get("processed_at"), field="processed_at") or placed_at
    fulfilments = []
    for fulfilment in order.get("fulfillments") or []:
        if fulfilment.get("status") not in (None, "success"):
            continue
        fulfilments.append(
            FulfilmentDoc(
                external_id=str(require(fulfilment, "id")),
                fulfilled_at=timestamp(require(fulfilment, "created_at"), field="fulfillments.created_at"),
                lines=tuple(
                    (str(require(line, "id")), int(line.get("quantity") or 0))
                    for line in fulfilment.get("line_items") or []
                ),
                location=str(fulfilment.get("location_id") or ""),
            )
        )
    fulfilled_at = (
        max(f.fulfilled_at for f in fulfilments)
        if order.get("fulfillment_status") == "fulfilled" and fulfilments
        else None
    )
    vendor_total = _shop_amount(order, "total_price", currency) if order.get("total_price") is not None else None
    presentment_currency = order.get("presentment_currency") or ""
    presentment_amounts = {}
    total_set = order.get("total_price_set") or {}
    if isinstance(total_set, dict) and isinstance(total_set.get("presentment_money"), dict):
        presentment_amounts["total"] = str(total_set["presentment_money"].get("amount"))
    document = CanonicalOrder(
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
        presentment_currency=presentment_currency if presentment_currency != currency else "",
        presentment_amounts=presentment_amounts if presentment_currency not in ("", currency) else {},
        vendor_total=vendor_total,
    )
    if paid_at is None:
        return document
    return _with_payments(document, order)


def _with_payments(document: CanonicalOrder, order: Mapping[str, Any]) -> CanonicalOrder:
    """The order's REST payload names its gateways but not the split between them; the amount is
    the line-level total (what posting trusts), the vendor's own total is kept to flag differences.
    An order paid partly by gift card is split by `gift_card_split` once its transactions are read."""
    from dataclasses import replace

    gateways = _gateway_names(order)
    card_gateways = [name for name in gateways if name not in GIFT_CARD_GATEWAYS]
    gateway = card_gateways[0] if card_gateways else (gateways[0] if gateways else DEFAULT_GATEWAY)
    total = line_level_total(document)
    payment = PaymentDoc(
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


def needs_transactions(document: CanonicalOrder, order: Mapping[str, Any]) -> bool:
    """A paid order that names a gift card next to another gateway: only its transactions say how
    much each paid, and a gift card's share is a liability released, not card money to clear."""
    gateways = set(_gateway_names(order))
    return bool(document.payments) and bool(gateways & GIFT_CARD_GATEWAYS) and bool(gateways - GIFT_CARD_GATEWAYS)


def gift_card_split(document: CanonicalOrder, transactions: Any) -> CanonicalOrder:
    """Split the order's payment into the gift-card share (successful gift-card sales and captures,
    in shop currency) and the rest on the card gateway. More gift card than the order is an error."""
    from dataclasses import replace

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
            PaymentDoc(
                external_id=f"{document.external_id}:gift_card",
                gateway="gift_card",
                amount=gift,
                method="gift_card",
                is_gift_card=True,
            )
        )
    return replace(document, payments=tuple(payments))


def refund_normalise(refund: Mapping[str, Any], *, currency: str, taxes_included: bool) -> CanonicalRefund:
    refund_id = str(require(refund, "id"))
    lines = []
    for line in refund.get("refund_line_items") or []:
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or quantity <= 0:
            continue  # a zero-quantity line refunds money only; Shopify sends it for adjustments
        lines.append(
            RefundLineDoc(
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
    gateway = (str(transactions[0].get("gateway") or "").strip() or DEFAULT_GATEWAY) if transactions else ""
    processed_at = timestamp(refund.get("processed_at") or refund.get("created_at"), field="processed_at")
    return CanonicalRefund(
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


def _balance_line(transaction: Any, *, index: int, payout_id: str, currency: str) -> PayoutLineDoc | None:
    """One balance transaction as a payout line; None for the payout's own row. Amount and fee keep
    Shopify's signs (a refunded fee is a negative fee), so amount - fee is always Shopify's net."""
    field = f"transactions[{index}]"
    if not isinstance(transaction, dict):
        raise NormaliseError(f"{field}: {transaction!r} is not a balance transaction.")
    kind = str(transaction.get("type") or "").strip().lower()
    if kind in PAYOUT_ROW_TYPES or (kind == "transfer" and str(transaction.get("source_id")) == payout_id):
        return None
    line_type = BALANCE_TYPES.get(kind, PAYOUT_OTHER)
    reference = transaction.get("source_order_id") if line_type == PAYOUT_CHARGE else transaction.get("source_id")
    fee = transaction.get("fee")
    return PayoutLineDoc(
        type=line_type,
        amount=money(transaction.get("amount"), currency, field=f"{field}.amount"),
        fee=money("0" if fee is None else fee, currency, field=f"{field}.fee"),
        reference=str(reference or "")[:120],
        external_id=str(transaction.get("id") or "")[:120],
        description=str(transaction.get("source_type") or kind)[:255],
        vendor_type=kind[:60],
    )


def _summary_lines(payout: Mapping[str, Any], *, payout_id: str, currency: str) -> list[PayoutLineDoc]:
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
                PayoutLineDoc(
                    type=line_type,
                    amount=gross,
                    fee=fee,
                    external_id=f"{payout_id}:{kind}",
                    description=f"Payout summary: {kind.replace('_', ' ')}",
                    vendor_type=f"summary:{kind}",
                )
            )
    return lines


def payout_normalise(record: Mapping[str, Any]) -> CanonicalPayout:
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
    return CanonicalPayout(
        external_id=payout_id,
        source_version=1 if payout.get("status") != "paid" else 2,
        currency=currency,
        arrival_date=arrival_date,
        amount=money(payout.get("amount"), currency, field="payout.amount"),
        gateway="shopify_payments",
        lines=tuple(lines),
    )


def inventory_level_normalise(level: Mapping[str, Any], *, sku: str) -> CanonicalInventoryLevel | None:
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
    return CanonicalInventoryLevel(
        location_external_id=location_id,
        sku=sku[:120],
        on_hand=Decimal(available),
        source_version=version(updated_at),
        external_id=item_id,
        updated_at=updated_at,
        net_of_source_orders=True,
    )


class ShopifyAdapter(Adapter):
    vendor = Connection.Vendor.SHOPIFY
    topics = (*ORDER_TOPICS, "refunds/create", "payouts", INVENTORY_TOPIC, *RETURN_TOPICS)
    poll_topics = ("orders", "payouts")
    inventory_topics = (INVENTORY_TOPIC,)
    topic_header = "X-Shopify-Topic"
    credential_fields = ("access_token",)
    config_fields = ("shop_domain", "api_version")

    def config_validate(self, config: Mapping[str, Any]) -> None:
        domain = str(config.get("shop_domain") or "")
        if not SHOP_DOMAIN.match(domain):
            raise ValidationError({"config": ["shop_domain must look like your-store.myshopify.com."]})
        api_version = config.get("api_version") or API_VERSION
        if not isinstance(api_version, str) or not API_VERSION_FORMAT.match(api_version):
            raise ValidationError({"config": ["api_version must look like 2025-07."]})
        if config.get("api_base_url"):
            if not settings.CONNECTOR_API_BASE_OVERRIDE:
                raise ValidationError({"config": ["api_base_url is for local simulators and is off here."]})
            try:
                netsafety.url_check(
                    str(config["api_base_url"]),
                    allow_private=settings.CONNECTORS_ALLOW_PRIVATE_URLS,
                    resolve=netsafety.resolve_host,
                )
            except netsafety.UnsafeUrl as error:
                raise ValidationError({"config": [f"api_base_url: {error.message}"]}) from error

    def base_url(self, connection: Connection) -> str:
        """Checked again here: config saved before these checks existed must not reach the client."""
        if settings.CONNECTOR_API_BASE_OVERRIDE and connection.config.get("api_base_url"):
            # The shared client's guard checks the address it resolves to on every connection.
            url = str(connection.config["api_base_url"]).strip()
            try:
                netsafety.url_shape_check(url)
            except netsafety.UnsafeUrl as error:
                raise UnsafeUrl(error.message) from None
            return url.rstrip("/")
        api_version = connection.config.get("api_version") or API_VERSION
        domain = connection.config.get("shop_domain")
        if not isinstance(domain, str) or not SHOP_DOMAIN.match(domain):
            raise UnsafeUrl("shop_domain must look like your-store.myshopify.com.")
        if not isinstance(api_version, str) or not API_VERSION_FORMAT.match(api_version):
            raise UnsafeUrl("api_version must look like 2025-07.")
        return f"https://{domain}/admin/api/{api_version}"

    def client(self, connection: Connection) -> VendorClient:
        token = connection.credentials.get("access_token", "")
        return VendorClient(
            base_url=self.base_url(connection),
            connection_id=connection.pk,
            headers={"X-Shopify-Access-Token": token},
            secrets=[token, connection.webhook_secret],
            rate_per_second=2,  # REST leaky bucket: 2 requests/s on standard plans
        )

    def webhook_verify(self, *, connection: Connection, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = headers.get("X-Shopify-Hmac-Sha256", "")
        secret = connection.webhook_secret
        if not given or not secret:
            raise WebhookRejected("Missing X-Shopify-Hmac-Sha256.")
        expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("The Shopify signature does not match.")

    def webhook_identify(self, *, body: bytes, payload: Any, headers: Mapping[str, str]) -> WebhookIdentity:
        topic = headers.get("X-Shopify-Topic", "")
        if not topic:
            raise WebhookRejected("Missing X-Shopify-Topic.", status=400)
        if topic == INVENTORY_TOPIC and isinstance(payload, dict):
            if payload.get("inventory_item_id") is None or payload.get("location_id") is None:
                raise WebhookRejected("The payload has no inventory_item_id or location_id.", status=400)
            return WebhookIdentity(topic=topic, external_id=f"{payload['inventory_item_id']}:{payload['location_id']}")
        if isinstance(payload, dict) and payload.get("id") is None:
            # A resource as the REST API returns it, wrapped in its name: {"payout": {...}}, {"order": {...}}
            wrapped = next(
                (payload[key] for key in ("payout", "order", "refund") if isinstance(payload.get(key), dict)), None
            )
            if wrapped is not None and wrapped.get("id") is not None:
                return WebhookIdentity(topic=topic, external_id=str(wrapped["id"]))
        if not isinstance(payload, dict) or payload.get("id") is None:
            raise WebhookRejected("The payload has no id.", status=400)
        return WebhookIdentity(topic=topic, external_id=str(payload["id"]))

    def normalise(self, *, topic: str, payload: Any, connection: Connection) -> list[Document]:
        if not isinstance(payload, dict):
            raise NormaliseError("The payload is not a JSON object.")
        for key in ("order", "refund"):
            # a resource as the REST API returns it (GET orders/{id}.json: {"order": {...}})
            if payload.get("id") is None and isinstance(payload.get(key), dict) and key in topic:
                payload = payload[key]
        if topic in RETURN_TOPICS:
            return [return_normalise(payload)]
        if topic in ORDER_TOPICS:
            order = order_normalise(payload, shop_domain="")
            if needs_transactions(order, payload):
                with self.client(connection) as client:
                    data = client.get(f"orders/{payload['id']}/transactions.json", params={"in_shop_currency": "true"})
                order = gift_card_split(order, (data or {}).get("transactions") if isinstance(data, dict) else None)
            refunds = [
                refund_normalise(refund, currency=order.currency, taxes_included=order.taxes_included)
                for refund in payload.get("refunds") or []
            ]
            return [order, *refunds]
        if topic == "refunds/create":
            # The refund webhook carries no currency: it is the order's, which is already stored.
            from commerce.models import Order

            order = Order.objects.filter(
                source=self.vendor, source_connection_id=connection.pk, external_id=str(payload.get("order_id"))
            ).first()
            if order is None:
                raise DependencyMissing(
                    f"Refund {payload.get('id')} is for order {payload.get('order_id')}, not stored yet."
                )
            return [refund_normalise(payload, currency=order.currency, taxes_included=order.taxes_included)]
        if topic == "payouts":
            return [payout_normalise(payload)]
        if topic == INVENTORY_TOPIC:
            document = inventory_level_normalise(payload, sku=self._sku(connection, payload))
            return [document] if document is not None else []
        raise NormaliseError(f"Topic {topic!r} is not handled by Shopify.")

    def poll_topics_for(self, connection: Connection) -> tuple[str, ...]:
        if connection.config.get("sync_inventory"):
            return (*self.poll_topics, "inventory_levels")
        return self.poll_topics

    def _sku(self, connection: Connection, level: Mapping[str, Any]) -> str:
        """The webhook names the inventory item, not the SKU: the poller embeds it, a stored level
        knows it, else the item is read (`GET inventory_items/{id}.json`)."""
        if level.get("sku"):
            return str(level["sku"])
        item_id = str(level.get("inventory_item_id") or "")
        from commerce.models import InventoryLevel

        known = (
            InventoryLevel.objects.filter(source=self.vendor, source_connection_id=connection.pk, external_id=item_id)
            .values_list("sku", flat=True)
            .first()
        )
        if known:
            return known
        with self.client(connection) as client:
            item = (client.get(f"inventory_items/{item_id}.json") or {}).get("inventory_item") or {}
        return str(item.get("sku") or "")

    def fetch_page(
        self, *, connection: Connection, client: VendorClient, topic: str, cursor: dict, since: dt.datetime | None
    ) -> Page:
        if topic == "orders":
            return self._orders_page(client=client, cursor=cursor, since=since)
        if topic == "payouts":
            return self._payouts_page(client=client, cursor=cursor, since=since)
        if topic == "inventory_levels":
            return self._inventory_page(connection=connection, client=client, cursor=cursor, since=since)
        raise NormaliseError(f"Shopify cannot poll {topic!r}.")

    def _inventory_page(
        self, *, connection: Connection, client: VendorClient, cursor: dict, since: dt.datetime | None
    ) -> Page:
        """`GET inventory_levels.json?location_ids=…&updated_at_min=…` paged by Link; each level's SKU
        is read in batches from `inventory_items.json?ids=…` and kept in the record."""
        from connectors.http import response_json

        watermark = cursor.get("updated_at_min") or (since.isoformat() if since else None)
        if cursor.get("next"):
            response = client.request("GET", cursor["next"])
        else:
            locations = [str(item) for item in connection.config.get("location_ids") or []]
            if not locations:
                listed = client.get("locations.json") or {}
                locations = [str(loc.get("id")) for loc in listed.get("locations") or [] if loc.get("active", True)]
            if not locations:
                return Page([], dict(cursor), done=True)
            params: dict[str, Any] = {"location_ids": ",".join(locations), "limit": PAGE_SIZE}
            if watermark:
                params["updated_at_min"] = watermark
            response = client.request("GET", "inventory_levels.json", params=params)
        data = response_json(response, what="GET inventory_levels.json")
        levels = data.get("inventory_levels") if isinstance(data, dict) else None
        if not isinstance(levels, list):
            raise NormaliseError("inventory_levels.json did not return an inventory_levels list.")
        item_ids = sorted({str(level.get("inventory_item_id")) for level in levels})
        skus: dict[str, str] = {}
        for start in range(0, len(item_ids), 100):
            batch = client.get("inventory_items.json", params={"ids": ",".join(item_ids[start : start + 100])}) or {}
            for item in batch.get("inventory_items") or []:
                skus[str(item.get("id"))] = str(item.get("sku") or "")
        records = [
            Record(
                INVENTORY_TOPIC,
                f"{level.get('inventory_item_id')}:{level.get('location_id')}",
                body({**level, "sku": skus.get(str(level.get("inventory_item_id")), "")}),
            )
            for level in levels
        ]
        newest = max((str(level.get("updated_at") or "") for level in levels), default="") or watermark
        match = _NEXT_LINK.search(response.headers.get("Link", ""))
        if match:
            return Page(records, {"updated_at_min": watermark, "newest": newest, "next": match.group(1)}, done=False)
        final = max(filter(None, [cursor.get("newest"), newest]), default=None)
        return Page(records, {"updated_at_min": final} if final else {}, done=True)

    def _orders_page(self, *, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
        watermark = cursor.get("updated_at_min") or (since.isoformat() if since else None)
        if cursor.get("next"):
            response = client.request("GET", cursor["next"])
        else:
            params = {"status": "any", "limit": PAGE_SIZE, "order": "updated_at asc"}
            if watermark:
                params["updated_at_min"] = watermark
            response = client.request("GET", "orders.json", params=params)
        from connectors.http import response_json

        data = response_json(response, what="GET orders.json")
        orders = data.get("orders") if isinstance(data, dict) else None
        if not isinstance(orders, list):
            raise NormaliseError("orders.json did not return an orders list.")
        records = [Record("orders/updated", str(order.get("id")), body(order)) for order in orders]
        newest = max((str(order.get("updated_at") or "") for order in orders), default="") or watermark
        match = _NEXT_LINK.search(response.headers.get("Link", ""))
        if match:
            return Page(records, {"updated_at_min": watermark, "newest": newest, "next": match.group(1)}, done=False)
        final = max(filter(None, [cursor.get("newest"), newest]), default=None)
        return Page(records, {"updated_at_min": final} if final else {}, done=True)

    def _payouts_page(self, *, client: VendorClient, cursor: dict, since: dt.datetime | None) -> Page:
        params: dict[str, Any] = {"status": "paid", "limit": 50}
        if cursor.get("since_id"):
            params["since_id"] = cursor["since_id"]
        elif since:
            params["date_min"] = since.date().isoformat()
        data = client.get("shopify_payments/payouts.json", params=params)
        payouts = data.get("payouts") if isinstance(data, dict) else None
        if not isinstance(payouts, list):
            raise NormaliseError("payouts.json did not return a payouts list.")
        records = []
        for payout in payouts:
            transactions = client.get("shopify_payments/balance/transactions.json", params={"payout_id": payout["id"]})
            records.append(
                Record(
                    "payouts",
                    str(payout["id"]),
                    body({"payout": payout, "transactions": (transactions or {}).get("transactions", [])}),
                )
            )
        last = max((int(p["id"]) for p in payouts), default=None)
        next_cursor = {"since_id": last} if last is not None else dict(cursor)
        return Page(records, next_cursor, done=len(payouts) < params["limit"])

    def connection_test(self, *, connection: Connection) -> str:
        with self.client(connection) as client:
            shop = client.get("shop.json")
        shop = (shop or {}).get("shop") or {}
        name, domain, currency = shop.get("name", "?"), shop.get("myshopify_domain", "?"), shop.get("currency", "?")
        return f"Connected to {name} ({domain}), currency {currency}."


adapter_register(ShopifyAdapter())
