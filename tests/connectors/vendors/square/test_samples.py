"""Square's own API reference examples (square/square-php-sdk doc/models, tests/fixtures/SOURCES.md)
through the normaliser and, saved as files, through `ingest_file` without Square's API."""

import datetime as dt
from decimal import Decimal as D

from commerce.documents import PayoutLineDoc
from connectors.vendors.square.normalise import payout_normalise
from tests.connectors.helpers import fixture

PAYOUT = "po_f3c0fb38-a5ce-427d-b858-52b925b72e45"


def test_payout_entries_keep_squares_fee_signs_so_every_entry_nets_as_square_says():
    entries = fixture("square", "sdk_list_payout_entries.json")["payout_entries"]
    payout = payout_normalise(fixture("square", "sdk_get_payout.json")["payout"], entries, {})
    assert (payout.external_id, payout.currency, payout.amount, payout.arrival_date) == (
        PAYOUT,
        "USD",
        D("-1.03"),
        dt.date(2022, 3, 24),
    )
    assert payout.lines == (
        PayoutLineDoc(
            "refund",
            D("-0.50"),
            D("-0.02"),
            "HVdG62HeMlti8YYf94oxrN_dR8Nztxg7umf94oxrN12Ji5r2KW14FAY",
            "poe_ZQWcw41d0SGJS6IWd4cSi8mKHk",
            "refund",
            "REFUND",
        ),
        PayoutLineDoc(
            "charge",
            D("1.00"),
            D("0.19"),
            "HVdG62H5K3291d0SGJS6IWd4cSi8YY",
            "poe_EibbY9Ob1d0SGJS6IWd4cSiSi6wkaPk",
            "charge",
            "CHARGE",
        ),
    )
    # gross - fee is Square's own net_amount_money for each entry (-48 and 81 cents); abs(fee) made it -52
    assert [line.amount - line.fee for line in payout.lines] == [
        D(entry["net_amount_money"]["amount"]) / 100 for entry in entries
    ]


def test_an_unknown_entry_type_is_kept_as_other_instead_of_refusing_the_payout():
    entries = fixture("square", "sdk_list_payout_entries.json")["payout_entries"]
    entries.append({**entries[1], "id": "poe_x", "type": "SQUARE_CAPITAL_PAYMENT"})
    payout = payout_normalise(fixture("square", "sdk_get_payout.json")["payout"], entries, {})
    assert [(line.type, line.vendor_type, line.reference) for line in payout.lines][-1] == (
        "other",
        "SQUARE_CAPITAL_PAYMENT",
        "",
    )
