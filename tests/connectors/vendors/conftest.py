"""Vendor package tests. The channel adapter contract tests (`test_channel.py`, which use the
`no_waiting` fixture): vendors are respx fakes that keep what they were sent and answer
in the vendor's documented shapes (tests/fixtures/<vendor>/channel_*.json). No database is needed:
adapters never touch it, so connections are built, not saved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connectors.vendors.base import PromotionSpec
from core.http import client as http
from core.http import netsafety


@pytest.fixture
def no_waiting(monkeypatch):
    """Retries and the Redis rate limit are the connectors' business (tested there)."""
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    monkeypatch.setattr(http.RateLimiter, "acquire", lambda self, max_wait=30.0: 0.0)
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.216.34"])


def promotion(**changes) -> PromotionSpec:
    values = {
        "key": "promo-42",
        "version": 1,
        "title": "Winter boots",
        "kind": "percent_off",
        "value": Decimal("15"),
        "currency": "USD",
        "starts_at": dt.datetime(2026, 11, 20, 5, 0, tzinfo=dt.UTC),
        "ends_at": dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC),
        "skus": ("BOOT-BLK-42", "BOOT-BLK-43"),
        "coupon_codes": ("WINTER15",),
    }
    values.update(changes)
    return PromotionSpec(**values)
