"""Odoo adapter against recorded JSON-RPC exchanges (tests/fixtures/odoo/exchanges.json)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
import respx

from posting.erp.base import EntryState, ErpAccount, ErpError, ErrorKind, PushResult
from posting.erp.odoo import OdooAdapter
from tests.posting.erp.conftest import body, exchanges, journal

X = exchanges("odoo")
URL = "https://acme.odoo.example/jsonrpc"
IDS = {"1210": "11", "4010": "13", "2100": "12", "4300": "14"}


class FakeOdoo:
    """Answers each call from a script keyed by (model, method); records every call made."""

    def __init__(self, script: dict[tuple[str, str], list]):
        self.script = {key: list(value) for key, value in script.items()}
        self.calls: list[tuple[str, str, list, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = body(request)["params"]
        if params["service"] == "common":
            key, args, kwargs = ("common", params["method"]), params["args"], {}
        else:
            _db, _uid, _key, model, method, args, kwargs = params["args"]
            key = (model, method)
        self.calls.append((*key, args, kwargs))
        answer = self.script[key].pop(0)
        if isinstance(answer, str):
            return httpx.Response(502, text=answer, headers={"content-type": "text/html"})
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(200, json=answer)


def adapter(http) -> OdooAdapter:
    return OdooAdapter(
        config={
            "base_url": "https://acme.odoo.example",
            "database": "acme",
            "username": "api@acme.test",
            "journal_id": "3",
        },
        credentials={"api_key": "key-123"},
        http=http,
    )


@respx.mock
def test_chart_import_maps_types_keeps_deprecated_and_skips_off_balance(http):
    fake = FakeOdoo(
        {
            ("common", "authenticate"): [X["authenticate"]],
            ("account.account", "search_read"): [X["accounts"]],
            ("account.tax", "search_read"): [X["taxes"]],
            ("account.analytic.account", "search_read"): [X["analytics"]],
        }
    )
    respx.post(URL).mock(side_effect=fake)
    chart = adapter(http).fetch_chart()
    assert chart.accounts == [
        ErpAccount("11", "1210", "Shopify Payments clearing", "asset", True, ""),
        ErpAccount("12", "2100", "Sales tax payable", "liability", True, ""),
        ErpAccount("13", "4010", "Sales - apparel", "revenue", True, ""),
        ErpAccount("14", "4300", "Shipping income", "revenue", True, ""),
        ErpAccount("15", "4900", "Old sales", "revenue", False, ""),
        ErpAccount("16", "1020", "EUR bank", "asset", True, "EUR"),
    ]
    assert [(tax.code, tax.rate) for tax in chart.tax_codes] == [("1", Decimal("8.875"))]
    assert [(dim.kind, dim.external_id, dim.name) for dim in chart.dimensions] == [("analytic", "5", "WEB")]
    assert fake.calls[1][3] == {
        "fields": ["code", "name", "account_type", "deprecated", "currency_id"],
        "context": {"active_test": False},
    }


@respx.mock
def test_push_looks_the_reference_up_creates_with_line_ids_and_posts(http):
    fake = FakeOdoo(
        {
            ("common", "authenticate"): [X["authenticate"]],
            ("account.move", "search_read"): [X["search_none"]],
            ("account.move", "create"): [X["create"]],
            ("account.move", "action_post"): [X["action_post"]],
            ("account.move", "read"): [X["read_posted"]],
        }
    )
    route = respx.post(URL).mock(side_effect=fake)
    result = adapter(http).push(journal(**IDS))
    assert result == PushResult("901", True, EntryState.POSTED, "MISC/2026/03/0007")
    assert fake.calls[1][2] == [[["ref", "=", "TB-41"], ["move_type", "=", "entry"], ["state", "!=", "cancel"]]]
    values = fake.calls[2][2][0][0]
    assert values == {
        "move_type": "entry",
        "ref": "TB-41",
        "date": "2026-03-14",
        "narration": "Order 1001",
        "journal_id": 3,
        "line_ids": [
            [0, 0, {"account_id": 11, "name": "Shopify payments clearing", "debit": 225.3, "credit": 0.0}],
            [0, 0, {"account_id": 13, "name": "Sales - apparel", "debit": 0.0, "credit": 200.0}],
            [0, 0, {"account_id": 12, "name": "Sales tax US-NY-NYC", "debit": 0.0, "credit": 17.75}],
            [0, 0, {"account_id": 14, "name": "Shipping income", "debit": 0.0, "credit": 7.55}],
        ],
    }
    # amounts travel as exact decimal literals, never float artefacts
    assert b'"debit":225.30' in route.calls[2].request.content
    assert fake.calls[3][:3] == ("account.move", "action_post", [[901]])


@respx.mock
def test_repush_after_a_timeout_finds_the_draft_and_posts_it_instead_of_creating(http):
    fake = FakeOdoo(
        {
            ("common", "authenticate"): [X["authenticate"]],
            ("account.move", "search_read"): [X["search_none"], X["search_draft"]],
            ("account.move", "create"): [httpx.ReadTimeout("read timed out")],
            ("account.move", "action_post"): [X["action_post"]],
            ("account.move", "read"): [X["read_posted"]],
        }
    )
    respx.post(URL).mock(side_effect=fake)
    odoo = adapter(http)
    with pytest.raises(ErpError) as timeout:
        odoo.push(journal(**IDS))
    assert timeout.value.kind == ErrorKind.TIMEOUT
    assert odoo.push(journal(**IDS)) == PushResult("901", False, EntryState.POSTED, "MISC/2026/03/0007")
    assert [call[:2] for call in fake.calls].count(("account.move", "create")) == 1


@respx.mock
def test_repush_of_a_posted_entry_creates_nothing(http):
    fake = FakeOdoo(
        {("common", "authenticate"): [X["authenticate"]], ("account.move", "search_read"): [X["search_posted"]]}
    )
    respx.post(URL).mock(side_effect=fake)
    assert adapter(http).push(journal(**IDS)) == PushResult("901", False, EntryState.POSTED, "MISC/2026/03/0007")
    assert [call[:2] for call in fake.calls] == [("common", "authenticate"), ("account.move", "search_read")]


@respx.mock
def test_reversal_uses_the_wizard_once_then_finds_it(http):
    fake = FakeOdoo(
        {
            ("common", "authenticate"): [X["authenticate"]],
            ("account.move", "search_read"): [
                X["search_none"],
                {"jsonrpc": "2.0", "id": 5, "result": [{"id": 902, "name": "MISC/2026/03/0008", "state": "posted"}]},
            ],
            ("account.move.reversal", "create"): [X["reversal_wizard"]],
            ("account.move.reversal", "reverse_moves"): [X["reverse_moves"]],
            ("account.move", "read"): [X["read_reversal"]],
        }
    )
    respx.post(URL).mock(side_effect=fake)
    odoo = adapter(http)
    first = odoo.reverse(external_id="901", original=journal(**IDS), reference="TB-41-R", date=dt.date(2026, 3, 20))
    again = odoo.reverse(external_id="901", original=journal(**IDS), reference="TB-41-R", date=dt.date(2026, 3, 20))
    assert first == PushResult("902", True, EntryState.POSTED, "MISC/2026/03/0008")
    assert again == PushResult("902", False, EntryState.POSTED, "MISC/2026/03/0008")
    wizard = next(call for call in fake.calls if call[:2] == ("account.move.reversal", "create"))
    assert wizard[2] == [{"move_ids": [[6, 0, [901]]], "date": "2026-03-20", "reason": "TB-41-R"}]
    assert wizard[3] == {"context": {"active_model": "account.move", "active_ids": [901]}}


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (
            "lock_date",
            ErrorKind.CLOSED_PERIOD,
            "Odoo: You cannot add/modify entries prior to and inclusive of the lock date 12/31/2025.",
        ),
        ("deprecated_account", ErrorKind.UNKNOWN_ACCOUNT, "Odoo: The account Old sales (4900) is deprecated."),
        (
            "unbalanced",
            ErrorKind.VALIDATION,
            "Odoo: " + X["unbalanced"]["error"]["data"]["message"],
        ),
        (
            "html_502",
            ErrorKind.BAD_RESPONSE,
            "Odoo answered HTTP 502 with text/html instead of JSON: " + X["html_502"],
        ),
    ],
)
@respx.mock
def test_errors_keep_the_erps_words(http, answer, kind, words):
    fake = FakeOdoo(
        {
            ("common", "authenticate"): [X["authenticate"]],
            ("account.move", "search_read"): [X["search_none"]],
            ("account.move", "create"): [X[answer]],
        }
    )
    respx.post(URL).mock(side_effect=fake)
    with pytest.raises(ErpError) as error:
        adapter(http).push(journal(**IDS))
    assert (error.value.kind, error.value.message) == (kind, words)


@respx.mock
def test_refused_api_key_asks_to_reconnect(http):
    respx.post(URL).mock(side_effect=FakeOdoo({("common", "authenticate"): [X["authenticate_refused"]]}))
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert error.value.kind == ErrorKind.RECONNECT


def test_missing_odoo_account_id_is_refused_before_any_call(http):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        with pytest.raises(ErpError) as error:
            adapter(http).create(journal(**{"1210": "11", "4010": "13"}))
    assert error.value.kind == ErrorKind.UNKNOWN_ACCOUNT
    assert error.value.message.startswith("Account(s) 2100, 4300 have no Odoo id")
    assert not route.called
