"""adapter_for / channel_vendors and the shared tag and quantity helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.models import Connection
from connectors.vendors import channel_adapter_for, channel_vendors
from connectors.vendors.base import ChannelAdapter, ChannelRejected
from connectors.vendors.common import Tag, tag_parse, tag_title, title_untagged, whole_quantity


def test_every_sales_channel_vendor_has_an_adapter_and_nothing_else_does():
    assert channel_vendors() == ("shopify", "woocommerce", "square")
    for vendor in channel_vendors():
        adapter = channel_adapter_for(vendor)
        assert isinstance(adapter, ChannelAdapter) and adapter.vendor == vendor
        assert adapter is channel_adapter_for(vendor)
        assert {"pause", "prices", "inventory"} <= adapter.features
    for vendor in set(Connection.Vendor.values) - set(channel_vendors()):
        with pytest.raises(LookupError, match="is not a sales channel"):
            channel_adapter_for(vendor)


def test_kinds_per_channel():
    assert {vendor: sorted(channel_adapter_for(vendor).kinds) for vendor in channel_vendors()} == {
        "shopify": ["amount_off", "buy_x_get_y", "free_shipping", "percent_off"],
        "woocommerce": ["amount_off", "free_shipping", "percent_off"],
        "square": ["amount_off", "percent_off"],
    }


def test_tag_round_trip_with_paused_attributes():
    title = tag_title("Winter boots [promo-1 v9]", Tag("promo-42", 3, True, {"ends": "2026-12-01T05:00:00+00:00"}))

    assert title == "Winter boots [promo-42 v3 paused ends=2026-12-01T05:00:00+00:00]"
    assert tag_parse(title) == Tag("promo-42", 3, True, {"ends": "2026-12-01T05:00:00+00:00"})
    assert title_untagged(title) == "Winter boots"
    assert tag_parse("Black Friday") is None


def test_a_long_title_is_shortened_but_the_tag_is_kept():
    title = tag_title("x" * 300, Tag("promo-42", 12))

    assert len(title) == 255 and title.endswith("… [promo-42 v12]")


@given(st.text(max_size=300), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), st.integers(1, 10**6))
def test_any_title_keeps_a_parseable_tag(title, key, version):
    tagged = tag_title(title, Tag(key, version))

    assert len(tagged) <= 255
    assert tag_parse(tagged) == Tag(key, version)


def test_whole_quantity_floors_negatives_at_zero_and_refuses_fractions():
    assert whole_quantity("A", Decimal("4.000")) == 4
    assert whole_quantity("A", Decimal(-3)) == 0
    with pytest.raises(ChannelRejected, match=r"A: 2\.5 is not a whole quantity"):
        whole_quantity("A", Decimal("2.5"))
