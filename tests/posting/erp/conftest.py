"""Shared pieces of the ERP contract tests: one balanced journal, and the recorded exchanges of
each ERP (tests/fixtures/<erp>/exchanges.json, each shaped after the vendor's API reference named
in its `_source`)."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.http import client as connectors_http
from core.http import netsafety
from posting.erp.base import ErpJournal, ErpLine
from posting.erp.http import ErpHttp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def exchanges(vendor: str) -> dict:
    return json.loads((FIXTURES / vendor / "exchanges.json").read_text())


def journal(reference: str = "TB-41", **ids: str) -> ErpJournal:
    """Order 1001: Dr clearing 225.30 / Cr sales 200.00 / Cr tax 17.75 / Cr shipping 7.55."""
    return ErpJournal(
        reference=reference,
        date=dt.date(2026, 3, 14),
        currency="USD",
        memo="Order 1001",
        lines=[
            ErpLine(
                "1210",
                ids.get("1210", ""),
                Decimal("225.30"),
                Decimal("0.00"),
                "Shopify payments clearing",
                {"class": "5"},
            ),
            ErpLine("4010", ids.get("4010", ""), Decimal("0.00"), Decimal("200.00"), "Sales - apparel", {"class": "5"}),
            ErpLine("2100", ids.get("2100", ""), Decimal("0.00"), Decimal("17.75"), "Sales tax US-NY-NYC"),
            ErpLine("4300", ids.get("4300", ""), Decimal("0.00"), Decimal("7.55"), "Shipping income"),
        ],
    )


@pytest.fixture(autouse=True)
def _outbound(monkeypatch):
    """The shared client's SSRF check resolves partner-set hosts (documentation names here), and its
    retries and rate limiter wait: the host resolves to a public address and time is simulated (a
    wait moves the clock on), the policy itself stays."""
    now = [time.time()]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.215.14"])
    monkeypatch.setattr(connectors_http, "sleep", sleep)
    monkeypatch.setattr(connectors_http, "clock", lambda: now[0])


@pytest.fixture
def http():
    client = ErpHttp()
    yield client
    client.close()


def body(request: httpx.Request) -> dict:
    return json.loads(request.content)


# The tenant-domain API fixtures (keys, a JSON client, throttle windows) from the tenants tests.
from tests.tenants.conftest import api_client, make_key, throttle_reset  # noqa: E402, F401
