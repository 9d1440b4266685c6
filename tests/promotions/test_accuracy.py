"""The comparison of a channel's live offer with the approved version (promotions/accuracy.py)."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from connectors.vendors.base import LiveOffer, PromotionSpec
from promotions.accuracy import offer_differences

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
SPEC = PromotionSpec(
    key="spring-10",
    version=3,
    title="Spring",
    kind="percent_off",
    value=Decimal("10"),
    currency="USD",
    starts_at=START,
    ends_at=END,
    skus=("TEE-RED-M", "TEE-BLU-M"),
    coupon_codes=("Spring10",),
    min_spend=Decimal("50.00"),
)
MATCHING = LiveOffer(
    kind="percent_off",
    value=Decimal("10.0"),
    starts_at=START,
    ends_at=END + dt.timedelta(microseconds=400_000),
    eligibility={
        "skus": ("TEE-BLU-M", "TEE-RED-M"),
        "coupon_codes": ("SPRING10",),
        "min_spend": Decimal("50"),
        "collections": (),
    },
)


def differences(offer: LiveOffer, spec: PromotionSpec = SPEC) -> list[str]:
    return offer_differences(spec=spec, offer=offer)


def test_an_offer_with_the_approved_terms_matches_whatever_the_order_case_and_fractions():
    assert differences(MATCHING) == []


def test_another_amount_is_a_difference():
    assert differences(replace(MATCHING, value=Decimal("15"))) == [
        "amount: the channel shows 15, the approved version 10"
    ]


def test_another_type_is_a_difference_and_the_amount_is_not_compared_across_types():
    assert differences(replace(MATCHING, kind="amount_off", value=Decimal("10.00"))) == [
        "type: the channel shows amount off, the approved version percent off"
    ]


def test_eligibility_differences_are_named():
    offer = replace(
        MATCHING,
        eligibility={"skus": ("TEE-RED-M",), "coupon_codes": ("SPRING10", "STAFF"), "min_spend": None},
    )
    assert differences(offer) == [
        "coupon codes: the channel shows SPRING10, STAFF, the approved version SPRING10",
        "min spend: the channel shows none, the approved version 50",
        "skus: the channel shows TEE-RED-M, the approved version TEE-BLU-M, TEE-RED-M",
    ]


def test_a_window_moved_or_opened_is_a_difference():
    offer = replace(MATCHING, starts_at=START - dt.timedelta(days=1), ends_at=None)
    assert differences(offer) == [
        "starts at: the channel shows 2026-11-30T09:00:00+00:00, the approved version 2026-12-01T09:00:00+00:00",
        "ends at: the channel shows none, the approved version 2026-12-08T09:00:00+00:00",
    ]


def test_what_the_channel_does_not_hold_is_not_compared():
    # A WooCommerce coupon has no start; a channel that made its own code for a code-less promotion.
    offer = replace(MATCHING, starts_at=None, unreported=frozenset({"starts_at"}))
    assert differences(offer) == []
    codeless = replace(SPEC, coupon_codes=())
    assert differences(replace(MATCHING, eligibility={"coupon_codes": ("SPRING-10",)}), codeless) == []


def test_free_shipping_compares_no_amount():
    spec = replace(SPEC, kind="free_shipping", value=Decimal(0))
    assert differences(replace(MATCHING, kind="free_shipping", value=Decimal(100)), spec) == []
