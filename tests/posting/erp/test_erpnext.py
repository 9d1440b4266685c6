"""ERPNext adapter against recorded REST exchanges (tests/fixtures/erpnext/exchanges.json)."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import respx

from posting.erp.base import EntryState, ErpAccount, ErpError, ErrorKind, PushResult
from posting.erp.erpnext import ErpNextAdapter
from tests.posting.erp.conftest import body, exchanges, journal

X = exchanges("erpnext")
SITE = "https://acme.erpnext.example"
JOURNALS = f"{SITE}/api/resource/Journal%20Entry"
IDS = {
    "1210": "1210 - Shopify Clearing - AC",
    "4010": "4010 - Sales - Apparel - AC",
    "2100": "2100 - Sales Tax - AC",
    "4300": "4300 - Shipping Income - AC",
}


def adapter(http) -> ErpNextAdapter:
    return ErpNextAdapter(
        config={"base_url": SITE, "company": "Acme Outfitters", "cost_center": "Main - AC"},
        credentials={"api_key": "k1", "api_secret": "s1"},
        http=http,
    )


@respx.mock
def test_chart_import_reads_leaf_accounts_tax_accounts_and_cost_centers(http):
    accounts = respx.get(f"{SITE}/api/resource/Account").respond(200, json=X["accounts"])
    respx.get(f"{SITE}/api/resource/Cost%20Center").respond(200, json=X["cost_centers"])
    chart = adapter(http).fetch_chart()
    assert chart.accounts[0] == ErpAccount(
        "1210 - Shopify Clearing - AC", "1210", "Shopify Clearing", "asset", True, "USD"
    )
    assert [(a.code, a.type, a.active) for a in chart.accounts] == [
        ("1210", "asset", True),
        ("2100", "liability", True),
        ("4010", "revenue", True),
        ("4300", "revenue", True),
        ("Old Sales - AC", "revenue", False),
    ]
    assert [tax.external_id for tax in chart.tax_codes] == ["2100 - Sales Tax - AC"]
    assert [(d.kind, d.external_id) for d in chart.dimensions] == [("cost_center", "Main - AC")]
    request = accounts.calls[0].request
    assert request.headers["Authorization"] == "token k1:s1"
    assert json.loads(request.url.params["filters"]) == [["company", "=", "Acme Outfitters"], ["is_group", "=", 0]]
    assert request.url.params["limit_page_length"] == "0"


@respx.mock
def test_push_creates_a_draft_with_accounts_rows_then_submits(http):
    respx.get(JOURNALS).respond(200, json=X["list_none"])
    create = respx.post(JOURNALS).respond(200, json=X["created_draft"])
    submit = respx.put(f"{JOURNALS}/ACC-JV-2026-00012").respond(200, json=X["submitted"])
    assert adapter(http).push(journal(**IDS)) == PushResult(
        "ACC-JV-2026-00012", True, EntryState.POSTED, "ACC-JV-2026-00012"
    )
    sent = body(create.calls[0].request)
    assert sent["cheque_no"] == "TB-41" and sent["cheque_date"] == "2026-03-14" and sent["posting_date"] == "2026-03-14"
    assert sent["accounts"][0] == {
        "account": "1210 - Shopify Clearing - AC",
        "debit_in_account_currency": 225.3,
        "credit_in_account_currency": 0.0,
        "user_remark": "Shopify payments clearing",
        "cost_center": "Main - AC",
    }
    assert body(submit.calls[0].request) == {"docstatus": 1}


@respx.mock
def test_repush_after_timeout_submits_the_draft_found_by_reference(http):
    respx.get(JOURNALS).mock(
        side_effect=[httpx.Response(200, json=X["list_none"]), httpx.Response(200, json=X["list_draft"])]
    )
    create = respx.post(JOURNALS).mock(side_effect=httpx.ReadTimeout("timed out"))
    respx.put(f"{JOURNALS}/ACC-JV-2026-00012").respond(200, json=X["submitted"])
    erp = adapter(http)
    with pytest.raises(ErpError) as error:
        erp.push(journal(**IDS))
    assert error.value.kind == ErrorKind.TIMEOUT
    assert erp.push(journal(**IDS)).created is False
    assert create.call_count == 1


@respx.mock
def test_reverse_uses_make_reverse_journal_entry_and_submits(http):
    respx.get(JOURNALS).respond(200, json=X["list_none"])
    method = respx.post(
        f"{SITE}/api/method/erpnext.accounts.doctype.journal_entry.journal_entry.make_reverse_journal_entry"
    ).respond(200, json=X["reverse_draft"])
    insert = respx.post(JOURNALS).respond(200, json=X["reversal_created"])
    respx.put(f"{JOURNALS}/ACC-JV-2026-00013").respond(200, json=X["reversal_submitted"])
    result = adapter(http).reverse(
        external_id="ACC-JV-2026-00012", original=journal(**IDS), reference="TB-41-R", date=dt.date(2026, 3, 23)
    )
    assert result == PushResult("ACC-JV-2026-00013", True, EntryState.POSTED, "ACC-JV-2026-00013")
    assert body(method.calls[0].request) == {"source_name": "ACC-JV-2026-00012"}
    inserted = body(insert.calls[0].request)
    assert (inserted["reversal_of"], inserted["cheque_no"], inserted["posting_date"]) == (
        "ACC-JV-2026-00012",
        "TB-41-R",
        "2026-03-23",
    )


@pytest.mark.parametrize(
    ("answer", "status", "kind", "words"),
    [
        (
            "closed_period",
            417,
            ErrorKind.CLOSED_PERIOD,
            "ERPNext: You cannot create or cancel any accounting entries with in the closed Accounting Period "
            "FY2025-Q4",
        ),
        (
            "unknown_account",
            417,
            ErrorKind.UNKNOWN_ACCOUNT,
            "ERPNext: Could not find Row #2: Account: 4999 - Missing - AC",
        ),
        (
            "not_balanced",
            417,
            ErrorKind.VALIDATION,
            "ERPNext: Total Debit must be equal to Total Credit. The difference is 0.30",
        ),
        ("auth_failed", 401, ErrorKind.RECONNECT, "ERPNext: Invalid login credentials"),
    ],
)
@respx.mock
def test_errors_keep_the_erps_words(http, answer, status, kind, words):
    respx.get(JOURNALS).respond(200, json=X["list_none"])
    respx.post(JOURNALS).respond(status, json=X[answer])
    with pytest.raises(ErpError) as error:
        adapter(http).push(journal(**IDS))
    assert (error.value.kind, error.value.message, error.value.status_code) == (kind, words, status)


@respx.mock
def test_html_login_page_instead_of_json_is_a_bad_response(http):
    respx.get(JOURNALS).respond(
        200,
        text="<!DOCTYPE html><html><title>Login</title></html>",
        headers={"content-type": "text/html; charset=utf-8"},
    )
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert error.value.kind == ErrorKind.BAD_RESPONSE
    assert error.value.message == (
        "ERPNext answered HTTP 200 with text/html; charset=utf-8 instead of JSON: "
        "<!DOCTYPE html><html><title>Login</title></html>"
    )


@respx.mock
def test_rate_limit_is_retryable_with_retry_after(http):
    respx.get(JOURNALS).respond(429, text="", headers={"Retry-After": "7"})
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert (error.value.kind, error.value.retry_after, error.value.retryable) == (ErrorKind.RATE_LIMITED, 7.0, True)
