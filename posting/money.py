"""The one money helper (STYLE.md): minor units, quantisation and exact allocation.

Rounding is ROUND_HALF_UP, the convention of retail tills, Shopify, WooCommerce and the common ERPs
(NetSuite, Dynamics, Xero), so a posted amount matches the amount the vendor printed on the receipt.
Banker's rounding (half-even) would disagree with the vendor on every .5 of a minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

# ISO 4217 minor units. Anything not listed has 2, which is true of every other active currency
# except the few listed with 0 or 3 (and the unused 4-digit funds codes, which retail never sees).
MINOR_UNITS: dict[str, int] = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # two decimals (the common ones, listed so the table documents them)
    "AED": 2,
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
    "ZAR": 2,
}


class MoneyError(ValueError):
    pass


def currency_check(currency: str) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code.")
    return currency


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency_check(currency), 2)


def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def to_decimal(amount: Decimal | int | str) -> Decimal:
    if isinstance(amount, float):
        raise MoneyError("Money is never a float; pass a Decimal, an int or a string.")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as error:
        raise MoneyError(f"{amount!r} is not an amount.") from error
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a finite amount.")
    return value


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor unit."""
    return to_decimal(amount).quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Integer minor units (Stripe's representation): 12.34 USD → 1234, 500 JPY → 500."""
    return int(quantize(amount, currency).scaleb(minor_units(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    if isinstance(units, bool) or not isinstance(units, int):
        raise MoneyError(f"{units!r} is not a whole number of minor units.")
    return quantize(Decimal(units).scaleb(-minor_units(currency)), currency)


def allocate(total: Decimal | int | str, weights: Sequence[Decimal | int | str], currency: str) -> list[Decimal]:
    """Split `total` in proportion to `weights` so the parts sum exactly to the quantised total.

    Largest remainder: every part gets the floor of its exact share in minor units, then the units
    left over go one each to the largest fractional remainders (ties to the earlier weight, so the
    result is deterministic). A negative total is split as its absolute value and negated, so every
    part has the total's sign. Weights must be non-negative with a positive sum; a zero weight gets 0.
    """
    values = [to_decimal(weight) for weight in weights]
    if not values:
        raise MoneyError("Cannot allocate over no weights.")
    if any(value < 0 for value in values):
        raise MoneyError("Allocation weights must not be negative.")
    weight_sum = sum((Fraction(value) for value in values), Fraction(0))
    if weight_sum == 0:
        raise MoneyError("Cannot allocate over weights that are all zero.")
    units = to_minor(total, currency)
    sign = -1 if units < 0 else 1
    units = abs(units)
    shares = [Fraction(units) * Fraction(value) / weight_sum for value in values]
    floors = [share.numerator // share.denominator for share in shares]
    left = units - sum(floors)
    order = sorted(range(len(shares)), key=lambda index: (-(shares[index] - floors[index]), index))
    for index in order[:left]:
        floors[index] += 1
    return [from_minor(sign * part, currency) for part in floors]


def zero(currency: str) -> Decimal:
    return quantize(0, currency)
