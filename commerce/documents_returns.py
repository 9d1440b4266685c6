"""The canonical return: what a channel's return normaliser produces (connectors/vendors/
shopify_returns.py, square_returns.py) and what commerce.returns.return_upsert stores. Pure data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ReturnLineDoc:
    line_external_id: str  # the original order line's id at the channel
    quantity: int
    reason: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class CanonicalReturn:
    external_id: str
    order_external_id: str
    source_version: int
    status: str  # a commerce Return.Status value the channel has reached
    requested_at: dt.datetime | None  # None: when Tillbridge first sees it
    lines: tuple[ReturnLineDoc, ...] = ()
    name: str = ""
    reason: str = ""
    restocking_fee: Decimal = Decimal(0)
    shipping_cost: Decimal = Decimal(0)
    shipping_paid_by: str = "merchant"
    raw_event_id: int | None = None
