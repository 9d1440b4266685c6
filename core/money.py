"""The one money helper (STYLE.md): minor units, quantisation and exact allocation.

Rounding is ROUND_HALF_UP, the convention of retail tills, Shopify, WooCommerce and the common ERPs
(NetSuite, Dynamics, Xero), so a posted amount matches the amount the vendor printed on the receipt.
Banker's rounding (half-even) would disagree with the vendor on every .5 of a minor unit.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from iso4217 import Currency


class MoneyError(ValueError):
    pass


def currency_check(currency: str) -> str:
    """`currency` if it is an active ISO 4217 code with a minor unit; MoneyError otherwise.

    The code list and minor units come from the maintained `iso4217` package (ISO's own table),
    so a new or withdrawn currency is a dependency update, not a code change. Codes without a minor
    unit (precious metals XAU/XAG, testing XTS, "no currency" XXX) are not money Tillbridge posts."""
    minor_units(currency)
    return currency


@functools.cache
def _iso_exponent(currency: str) -> int | None:
    try:
        return Currency(currency).exponent
    except ValueError:
        return None


def minor_units(currency: str) -> int:
    """Decimal places of `currency` per ISO 4217 (JPY 0, USD 2, KWD 3). An unknown code is an error,
    never a guess: posting two decimals of a currency that has none (or three) misstates the books."""
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code.")
    exponent = _iso_exponent(currency)
    if exponent is None:
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency with a minor unit.")
    return exponent


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
