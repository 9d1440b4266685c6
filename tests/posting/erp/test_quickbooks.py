"""QuickBooks Online adapter against recorded exchanges (tests/fixtures/quickbooks/exchanges.json)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from posting.erp.base import EntryState, ErpError, ErrorKind, PushResult
from posting.erp.quickbooks import QuickBooksAdapter
from tests.posting.erp.conftest import body, exchanges, journal

X = exchanges("quickbooks")
BASE = "https://sandbox-quickbooks.api.intuit.com/v3/company/9130357"
TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
IDS = {"1210": "35", "4010": "79", "2100": "36", "4300": "80"}


def adapter(http, saved: list | None = None) -> QuickBooksAdapter:
    return QuickBooksAdapter(
        config={"realm_id": "9130357", "environment": "sandbox", "client_id": "client-1"},
        credentials={"access_token": "old-access", "refresh_token": "old-refresh", "client_secret": "secret-1"},
        http=http,
        on_credentials=saved.append if saved is not None else None,
    )


def by_query(answers: dict[str, dict]):
    def answer(request: httpx.Request) -> httpx.Response:
        statement = request.url.params["query"]
        entity = statement.split(" from ")[1].split(" ")[0]
        return httpx.Response(200, json=answers[entity])

    return answer


@respx.mock
def test_chart_import_includes_inactive_accounts_tax_codes_classes(http):
    route = respx.get(f"{BASE}/query").mock(
        side_effect=by_query(
            {"Account": X["accounts"], "TaxCode": X["tax_codes"], "Class": X["classes"], "Department": X["departments"]}
        )
    )
    chart = adapter(http).fetch_chart()
    assert [(a.external_id, a.code, a.name, a.type, a.active) for a in chart.accounts] == [
        ("35", "1210", "Shopify Clearing", "asset", True),
        ("36", "2100", "Sales Tax Payable", "liability", True),
        ("79", "4010", "Sales:Apparel", "revenue", True),
        ("80", "4300", "Shipping Income", "revenue", True),
        ("81", "81", "Old Sales (deleted)", "revenue", False),
    ]
    assert [t.code for t in chart.tax_codes] == ["TAX", "NON"]
    assert [(d.kind, d.external_id) for d in chart.dimensions] == [("class", "5000000000000123")]
    first = route.calls[0].request
    assert (
        first.url.params["query"]
        == "select * from Account where Active in (true, false) STARTPOSITION 1 MAXRESULTS 1000"
    )
    assert first.url.params["minorversion"] == "75"
    assert first.headers["Authorization"] == "Bearer old-access"


@respx.mock
def test_push_sends_journal_entry_lines_with_docnumber_and_requestid(http):
    respx.get(f"{BASE}/query").respond(200, json=X["none"])
    create = respx.post(f"{BASE}/journalentry").respond(200, json=X["created"])
    assert adapter(http).push(journal(**IDS)) == PushResult("227", True, EntryState.POSTED, "TB-41")
    request = create.calls[0].request
    assert request.url.params["requestid"] == "TB-41"
    sent = body(request)
    assert (sent["DocNumber"], sent["TxnDate"], sent["CurrencyRef"]) == ("TB-41", "2026-03-14", {"value": "USD"})
    assert sent["Line"][0] == {
        "Id": "0",
        "Description": "Shopify payments clearing",
        "Amount": 225.3,
        "DetailType": "JournalEntryLineDetail",
        "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": "35"}, "ClassRef": {"value": "5"}},
    }
    assert sent["Line"][2]["JournalEntryLineDetail"] == {"PostingType": "Credit", "AccountRef": {"value": "36"}}
    assert b'"Amount":225.30' in request.content


@respx.mock
def test_repush_after_timeout_finds_the_entry_by_docnumber(http):
    find = respx.get(f"{BASE}/query").mock(
        side_effect=[httpx.Response(200, json=X["none"]), httpx.Response(200, json=X["found"])]
    )
    create = respx.post(f"{BASE}/journalentry").mock(side_effect=httpx.ReadTimeout("timed out"))
    qbo = adapter(http)
    with pytest.raises(ErpError) as error:
        qbo.push(journal(**IDS))
    assert error.value.kind == ErrorKind.TIMEOUT
    assert qbo.push(journal(**IDS)) == PushResult("227", False, EntryState.POSTED, "TB-41")
    assert create.call_count == 1
    assert find.calls[1].request.url.params["query"] == "select * from JournalEntry where DocNumber = 'TB-41'"


@respx.mock
def test_expired_token_refreshes_once_stores_the_new_tokens_and_retries(http):
    saved: list[dict] = []
    query = respx.get(f"{BASE}/query").mock(
        side_effect=[httpx.Response(401, json=X["token_expired"]), httpx.Response(200, json=X["found"])]
    )
    token = respx.post(TOKEN).respond(200, json=X["refreshed"])
    assert adapter(http, saved).find("TB-41").external_id == "227"
    assert query.calls[1].request.headers["Authorization"] == "Bearer eyJ-new-access"
    refresh = token.calls[0].request
    assert parse_qs(refresh.content.decode()) == {"grant_type": ["refresh_token"], "refresh_token": ["old-refresh"]}
    assert refresh.headers["Authorization"] == "Basic Y2xpZW50LTE6c2VjcmV0LTE="  # client-1:secret-1
    assert (saved[-1]["access_token"], saved[-1]["refresh_token"]) == ("eyJ-new-access", "AB11-new-refresh")


@respx.mock
def test_refused_refresh_asks_for_a_reconnect(http):
    respx.get(f"{BASE}/query").respond(401, json=X["token_expired"])
    respx.post(TOKEN).respond(400, json=X["invalid_grant"])
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert (error.value.kind, error.value.message) == (
        ErrorKind.RECONNECT,
        "QuickBooks Online refused the token request (invalid_grant): connect QuickBooks Online again.",
    )


@respx.mock
def test_second_401_after_refresh_asks_for_a_reconnect(http):
    respx.get(f"{BASE}/query").respond(401, json=X["token_expired"])
    respx.post(TOKEN).respond(200, json=X["refreshed"])
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert error.value.kind == ErrorKind.RECONNECT


@respx.mock
def test_reversal_is_a_mirrored_entry_under_its_own_docnumber(http):
    respx.get(f"{BASE}/query").respond(200, json=X["none"])
    create = respx.post(f"{BASE}/journalentry").respond(200, json=X["created_reversal"])
    result = adapter(http).reverse(
        external_id="227", original=journal(**IDS), reference="TB-41-R", date=dt.date(2026, 3, 20)
    )
    assert result == PushResult("228", True, EntryState.POSTED, "TB-41-R")
    sent = body(create.calls[0].request)
    assert (sent["DocNumber"], sent["TxnDate"]) == ("TB-41-R", "2026-03-20")
    assert [line["JournalEntryLineDetail"]["PostingType"] for line in sent["Line"]] == [
        "Credit",
        "Debit",
        "Debit",
        "Debit",
    ]


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (
            "validation",
            ErrorKind.VALIDATION,
            "QuickBooks Online: A business validation error has occurred while processing your request — Business "
            "Validation Error: You must select an account for each split line with an amount.",
        ),
        (
            "closed_period",
            ErrorKind.CLOSED_PERIOD,
            "QuickBooks Online: Account Period Closed — Account Period Closed, Cannot update through Services API: "
            "The books are closed as of 2025-12-31.",
        ),
        (
            "unknown_account",
            ErrorKind.UNKNOWN_ACCOUNT,
            "QuickBooks Online: Invalid Reference Id — Invalid Reference Id : Accounts element id 999 not found",
        ),
    ],
)
@respx.mock
def test_faults_keep_the_erps_words(http, answer, kind, words):
    respx.get(f"{BASE}/query").respond(200, json=X["none"])
    respx.post(f"{BASE}/journalentry").respond(400, json=X[answer])
    with pytest.raises(ErpError) as error:
        adapter(http).push(journal(**IDS))
    assert (error.value.kind, error.value.message) == (kind, words)


@respx.mock
def test_throttled_request_is_rate_limited(http):
    respx.get(f"{BASE}/query").respond(429, text="", headers={"Retry-After": "60"})
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert (error.value.kind, error.value.retry_after) == (ErrorKind.RATE_LIMITED, 60.0)


def test_authorization_url_carries_state_and_scope():
    start = QuickBooksAdapter.authorization_start(client_id="client-1", redirect_uri="https://acme.example/cb")
    query = parse_qs(start.url.split("?", 1)[1])
    assert start.url.startswith("https://appcenter.intuit.com/connect/oauth2?")
    assert query == {
        "response_type": ["code"],
        "client_id": ["client-1"],
        "redirect_uri": ["https://acme.example/cb"],
        "scope": ["com.intuit.quickbooks.accounting"],
        "state": [start.state],
    }
    assert len(start.state) >= 32 and start.code_verifier == ""
