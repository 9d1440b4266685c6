"""Helpers every adapter shares: exact money parsing, timestamps, versions, totals."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from commerce.documents import CanonicalOrder
from connectors.vendors.base import NormaliseError
from core.money import MoneyError, currency_check, from_minor, quantize, to_decimal


def money(value: Any, currency: str, *, field: str = "amount") -> Decimal:
    """An exact amount in `currency`; more decimals than the currency has is an error, not a rounding."""
    if value is None or isinstance(value, bool | float):
        raise NormaliseError(f"{field}: {value!r} is not an amount.")
    try:
        amount = to_decimal(str(value))
        exact = quantize(amount, currency)
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None
    if exact != amount:
        raise NormaliseError(f"{field}: {value} has more decimals than {currency} allows.")
    return exact


def minor(value: Any, currency: str, *, field: str = "amount") -> Decimal:
    """Stripe/Square integer minor units → Decimal."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormaliseError(f"{field}: {value!r} is not a whole number of minor units.")
    try:
        return from_minor(value, currency)
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None


def timestamp(value: Any, *, field: str = "timestamp") -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if not isinstance(value, str) or not value:
        raise NormaliseError(f"{field}: {value!r} is not a timestamp.")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NormaliseError(f"{field}: {value!r} is not an ISO 8601 timestamp.") from None
    if moment.tzinfo is None:
        raise NormaliseError(f"{field}: {value!r} has no time zone.")
    return moment


def optional_timestamp(value: Any, *, field: str = "timestamp") -> dt.datetime | None:
    return None if value in (None, "") else timestamp(value, field=field)


def version(moment: dt.datetime) -> int:
    """A monotonic source version from the vendor's updated-at: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def require(payload: Any, *keys: str) -> Any:
    """payload[k1][k2]…, or NormaliseError naming the missing path."""
    value = payload
    path = []
    for key in keys:
        path.append(key)
        if not isinstance(value, dict) or value.get(key) is None:
            raise NormaliseError(f"The payload has no {'.'.join(path)}.")
        value = value[key]
    return value


def currency_code(value: Any, *, field: str = "currency") -> str:
    """An ISO 4217 code the money helper knows the minor unit of; anything else is an exception
    naming the field, never a guess at two decimals (DESIGN.md §4)."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise NormaliseError(f"{field}: {value!r} is not a currency code.")
    try:
        return currency_check(value.upper())
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None


def line_level_total(order: CanonicalOrder) -> Decimal:
    """What the customer paid according to the lines (the posting builder's total): gross less
    discounts, plus shipping, plus tax when prices exclude it."""
    gross = sum((line.gross for line in order.lines), Decimal(0))
    discounts = sum((discount.amount for discount in order.discounts), Decimal(0))
    shipping = sum((shipping.amount for shipping in order.shipping_lines), Decimal(0))
    taxes = sum((tax.amount for line in order.lines for tax in line.taxes), Decimal(0)) + sum(
        (tax.amount for shipping in order.shipping_lines for tax in shipping.taxes), Decimal(0)
    )
    return gross - discounts + shipping + (Decimal(0) if order.taxes_included else taxes)


def body(value: Any) -> bytes:
    """Canonical JSON bytes for a polled record (stable, so an unchanged record hashes the same)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
