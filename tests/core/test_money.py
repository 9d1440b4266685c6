from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import MoneyError, allocate, from_minor, minor_units, quantize, to_minor


def test_minor_units_of_zero_two_and_three_decimal_currencies():
    assert [minor_units(code) for code in ("JPY", "KRW", "USD", "EUR", "GBP", "CHF", "KWD", "BHD")] == [
        0,
        0,
        2,
        2,
        2,
        2,
        3,
        3,
    ]


def test_minor_units_come_from_iso_4217_not_a_hand_kept_table():
    # Currencies a hand-kept table would have guessed at two decimals.
    assert [minor_units(code) for code in ("ISK", "UYI", "CLF", "LYD", "MGA", "XPF")] == [0, 0, 4, 3, 2, 0]


def test_unknown_or_non_money_currency_codes_and_bad_codes_are_refused():
    for bad in ("XYZ", "XAU", "XXX", "usd", "US", "USDX", "", None):
        with pytest.raises(MoneyError):
            minor_units(bad)


def test_quantize_rounds_half_up_to_the_minor_unit():
    assert quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert quantize(Decimal("-2.345"), "USD") == Decimal("-2.35")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert quantize(Decimal("1.2345"), "KWD") == Decimal("1.235")
    assert str(quantize(1, "KWD")) == "1.000"


def test_quantize_refuses_floats_and_non_amounts():
    for bad in (1.1, "abc", "NaN", "Infinity"):
        with pytest.raises(MoneyError):
            quantize(bad, "USD")


def test_minor_units_round_trip_like_stripe():
    assert to_minor(Decimal("12.34"), "USD") == 1234
    assert to_minor(Decimal("500"), "JPY") == 500
    assert to_minor(Decimal("1.005"), "KWD") == 1005
    assert from_minor(1234, "USD") == Decimal("12.34")
    assert from_minor(500, "JPY") == Decimal("500")
    assert from_minor(-1005, "KWD") == Decimal("-1.005")
    with pytest.raises(MoneyError):
        from_minor(True, "USD")


def test_allocate_splits_a_cent_by_largest_remainder():
    assert allocate(Decimal("10.00"), [1, 1, 1], "USD") == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert allocate(Decimal("-10.00"), [1, 1, 1], "USD") == [Decimal("-3.34"), Decimal("-3.33"), Decimal("-3.33")]
    assert allocate(Decimal("100"), [Decimal("30"), Decimal("50"), Decimal("20")], "JPY") == [
        Decimal("30"),
        Decimal("50"),
        Decimal("20"),
    ]
    assert allocate(Decimal("1.000"), [2, 1], "KWD") == [Decimal("0.667"), Decimal("0.333")]


def test_allocate_gives_zero_weights_nothing_and_refuses_all_zero_or_negative_weights():
    assert allocate(Decimal("5.00"), [0, 1, 0], "USD") == [Decimal("0.00"), Decimal("5.00"), Decimal("0.00")]
    with pytest.raises(MoneyError):
        allocate(Decimal("5.00"), [0, 0], "USD")
    with pytest.raises(MoneyError):
        allocate(Decimal("5.00"), [], "USD")
    with pytest.raises(MoneyError):
        allocate(Decimal("5.00"), [2, -1], "USD")


currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR"])
totals = st.integers(min_value=-10_000_000, max_value=10_000_000)
weight_lists = st.lists(
    st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=12,
).filter(lambda weights: sum(weights) > 0)


@given(units=totals, weights=weight_lists, currency=currencies)
def test_allocation_sums_exactly_to_the_total(units, weights, currency):
    total = from_minor(units, currency)
    parts = allocate(total, weights, currency)
    assert sum(parts, Decimal(0)) == total
    assert len(parts) == len(weights)
    assert all(part == quantize(part, currency) for part in parts)


@given(units=totals, weights=weight_lists, currency=currencies)
def test_allocation_parts_carry_the_sign_of_the_total(units, weights, currency):
    parts = allocate(from_minor(units, currency), weights, currency)
    if units >= 0:
        assert all(part >= 0 for part in parts)
    else:
        assert all(part <= 0 for part in parts)
    assert all(part == 0 for part, weight in zip(parts, weights, strict=True) if weight == 0)


@given(units=totals, weights=weight_lists, currency=currencies)
def test_allocation_is_proportional_within_one_minor_unit(units, weights, currency):
    total = from_minor(units, currency)
    parts = allocate(total, weights, currency)
    unit = from_minor(1, currency)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * weight / weight_sum) < unit
