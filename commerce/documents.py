"""Canonical documents: what every vendor adapter's `normalise()` produces, and what the journal
builders read. Plain frozen dataclasses, so builders are pure functions testable without a database.

Amount conventions (one for every vendor):
- every amount is in the order's (shop's) currency, a Decimal quantised to its minor unit;
- `OrderLineDoc.unit_price` and `ShippingLineDoc.amount` are as the vendor printed them: they include
  tax when `CanonicalOrder.taxes_included` is true;
- discounts are positive amounts; a discount with `line_external_id=None` is order-level and is
  allocated to lines by the journal builder (by gross, or by the vendor's own allocations in
  `OrderLineDoc.discount_allocations`);
- payout line amounts are signed from the merchant's side (charge +, refund -, withheld reserve -).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

FUNDING_MERCHANT = "merchant"
FUNDING_VENDOR = "vendor"
COLLECTED_BY_MERCHANT = "merchant"
COLLECTED_BY_MARKETPLACE = "marketplace"


def row_values(doc: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A document's fields by name, for the row that stores it: the commerce models keep a
    document's fields under the same names (its nested documents, `exclude`, are rows of their own)."""
    return {item.name: getattr(doc, item.name) for item in fields(doc) if item.name not in exclude}


@dataclass(frozen=True)
class TaxLineDoc:
    jurisdiction: str
    rate: Decimal
    amount: Decimal
    collected_by: str = COLLECTED_BY_MERCHANT


@dataclass(frozen=True)
class OrderLineDoc:
    external_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    product_category: str = ""
    title: str = ""
    taxes: tuple[TaxLineDoc, ...] = ()
    # The vendor's own share of order-level discounts on this line (Shopify line items'
    # `discount_allocations`): (index of the discount in `CanonicalOrder.discounts`, amount).
    # When present they replace the builder's allocation, checked to sum to the discount.
    discount_allocations: tuple[tuple[int, Decimal], ...] = ()

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class DiscountDoc:
    amount: Decimal
    code: str = ""
    promotion_id: str = ""
    funding: str = FUNDING_MERCHANT
    line_external_id: str | None = None


@dataclass(frozen=True)
class ShippingLineDoc:
    external_id: str
    amount: Decimal
    code: str = ""
    title: str = ""
    taxes: tuple[TaxLineDoc, ...] = ()


# The gateway label of a payment whose vendor names none (Shopify manual and draft orders send
# `payment_gateway_names: [""]`): it maps to the default payment clearing rule, never dead-letters.
DEFAULT_GATEWAY = "manual"


@dataclass(frozen=True)
class PaymentDoc:
    external_id: str
    gateway: str
    amount: Decimal
    method: str = ""
    fee: Decimal = Decimal(0)
    is_gift_card: bool = False


@dataclass(frozen=True)
class FulfilmentDoc:
    external_id: str
    fulfilled_at: dt.datetime
    lines: tuple[tuple[str, int], ...] = ()  # (order line external id, quantity)
    location: str = ""


@dataclass(frozen=True)
class CanonicalOrder:
    external_id: str
    source_version: int
    currency: str
    placed_at: dt.datetime
    lines: tuple[OrderLineDoc, ...]
    channel: str = ""
    store: str = ""
    paid_at: dt.datetime | None = None
    fulfilled_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    customer_ref: str = ""
    taxes_included: bool = False
    discounts: tuple[DiscountDoc, ...] = ()
    shipping_lines: tuple[ShippingLineDoc, ...] = ()
    payments: tuple[PaymentDoc, ...] = ()
    fulfilments: tuple[FulfilmentDoc, ...] = ()
    presentment_currency: str = ""
    presentment_amounts: dict = field(default_factory=dict)
    vendor_total: Decimal | None = None  # the vendor's own total, kept to flag totals that do not add up
    raw_event_id: int | None = None
    ship_country: str = ""
    ship_region: str = ""


@dataclass(frozen=True)
class RefundLineDoc:
    line_external_id: str
    quantity: int
    restock: bool = False


@dataclass(frozen=True)
class CanonicalRefund:
    external_id: str
    order_external_id: str
    source_version: int
    currency: str
    processed_at: dt.datetime
    lines: tuple[RefundLineDoc, ...] = ()
    shipping: Decimal = Decimal(0)  # shipping refunded, same tax convention as the order's shipping
    gateway: str = ""
    is_gift_card: bool = False
    amount: Decimal | None = None  # what the vendor says it paid back
    reason: str = ""
    raw_event_id: int | None = None


@dataclass(frozen=True)
class CanonicalProcessorCharge:
    """A payment processor's charge that pays a storefront's order (Stripe in the `processor`
    role, DESIGN.md §4). It books no sale: it settles the order's payment clearing and books the
    processor's fee. `references` are the ids a storefront order may keep for it (the charge id,
    the payment intent id); `order_references` the storefront order ids the charge names in its
    metadata. `fee` is None when the balance transaction is not known yet (booked at payout)."""

    external_id: str
    gateway: str
    currency: str
    amount: Decimal
    created_at: dt.datetime
    fee: Decimal | None = None
    references: tuple[str, ...] = ()
    order_references: tuple[str, ...] = ()
    description: str = ""
    raw_event_id: int | None = None


PAYOUT_CHARGE = "charge"
PAYOUT_REFUND = "refund"
PAYOUT_FEE = "fee"
PAYOUT_ADJUSTMENT = "adjustment"
PAYOUT_RESERVE = "reserve"
PAYOUT_OTHER = "other"  # a vendor line type Tillbridge does not know: booked to payout suspense


@dataclass(frozen=True)
class PayoutLineDoc:
    type: str
    amount: Decimal
    fee: Decimal = Decimal(0)
    reference: str = ""  # external id of the order (charge) or refund (refund) behind the line
    external_id: str = ""
    description: str = ""
    vendor_type: str = ""  # the vendor's own line type, kept for the reconciliation page


@dataclass(frozen=True)
class CanonicalPayout:
    external_id: str
    source_version: int
    currency: str
    arrival_date: dt.date
    amount: Decimal  # net paid into the bank
    gateway: str
    lines: tuple[PayoutLineDoc, ...] = ()
    raw_event_id: int | None = None


@dataclass(frozen=True)
class CanonicalInventoryLevel:
    """On hand of one SKU at one source location. `source_version` orders updates (milliseconds of
    the vendor's updated/calculated-at, or a CSV count time), so a late, older update is ignored.
    `net_of_source_orders` is true when the vendor's figure already excludes its own open orders
    (Shopify `available`), so reservations from that source are not subtracted again."""

    location_external_id: str
    sku: str
    on_hand: Decimal
    source_version: int
    external_id: str = ""  # the vendor's item id (Shopify inventory item, Square variation)
    location_name: str = ""
    updated_at: dt.datetime | None = None
    net_of_source_orders: bool = False
    raw_event_id: int | None = None


@dataclass(frozen=True)
class ShipmentLineDoc:
    sku: str
    quantity: int
    line_external_id: str = ""  # the order line's external id when the warehouse echoes it


@dataclass(frozen=True)
class CanonicalShipment:
    """A shipment a warehouse made: matched to a fulfilment request by the warehouse's order id or
    our order key, else to an order by its external id (a ship-confirmation file)."""

    external_id: str
    shipped_at: dt.datetime
    lines: tuple[ShipmentLineDoc, ...]
    warehouse_order_id: str = ""
    order_key: str = ""
    order_reference: str = ""
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    voided: bool = False
    raw_event_id: int | None = None


@dataclass(frozen=True)
class CanonicalWarehouseOrder:
    """A warehouse system's view of an order we sent it (ShipStation ORDER_NOTIFY)."""

    external_id: str
    order_key: str
    status: str
    raw_event_id: int | None = None


@dataclass(frozen=True)
class FulfilmentRequestLineDoc:
    line_external_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ShipToDoc:
    """Where a warehouse ships an order: the channel's shipping address as the vendor sent it."""

    name: str = ""
    company: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    phone: str = ""


@dataclass(frozen=True)
class FulfilmentRequestDoc:
    """What a warehouse system is asked to ship (built by commerce, sent by a vendor adapter)."""

    order_key: str
    order_number: str
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    currency: str
    lines: tuple[FulfilmentRequestLineDoc, ...]
    ship_country: str = ""
    ship_region: str = ""
    customer_ref: str = ""
    location_external_id: str = ""
    ship_to: ShipToDoc | None = None  # the order's full address, read from its raw vendor event


@dataclass(frozen=True)
class ChannelFulfilmentDoc:
    """A warehouse shipment as a sales channel is told about it (the channel writers' input)."""

    fulfilment_id: int
    order_external_id: str
    shipped_at: dt.datetime
    lines: tuple[tuple[str, int], ...]  # (order line external id, quantity)
    carrier: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    reference: str = ""  # the channel's id of this fulfilment once pushed (a re-push reads it back)
