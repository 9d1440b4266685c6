"""Xero adapter against recorded exchanges (tests/fixtures/xero/exchanges.json)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from posting.erp.base import EntryState, ErpError, ErrorKind, PushResult
from posting.erp.xero import XeroAdapter
from tests.posting.erp.conftest import body, exchanges, journal

X = exchanges("xero")
API = "https://api.xero.com/api.xro/2.0"
TOKEN = "https://identity.xero.com/connect/token"
TENANT = "70784a63-d24b-46a9-a4db-0e70a274b056"
JOURNAL_ID = "0b159335-606b-485f-b20e-d6a3d2bd07cf"


def adapter(http, saved: list | None = None) -> XeroAdapter:
    return XeroAdapter(
        config={"tenant_id": TENANT, "client_id": "xero-client"},
        credentials={"access_token": "old-access", "refresh_token": "old-refresh"},
        http=http,
        on_credentials=saved.append if saved is not None else None,
    )


@respx.mock
def test_chart_import_skips_codeless_bank_accounts_and_marks_archived_inactive(http):
    accounts = respx.get(f"{API}/Accounts").respond(200, json=X["accounts"])
    respx.get(f"{API}/TaxRates").respond(200, json=X["tax_rates"])
    respx.get(f"{API}/TrackingCategories").respond(200, json=X["tracking"])
    chart = adapter(http).fetch_chart()
    assert [(a.code, a.type, a.active) for a in chart.accounts] == [
        ("1210", "asset", True),
        ("2100", "liability", True),
        ("4010", "revenue", True),
        ("4300", "revenue", False),
    ]
    assert chart.accounts[0].external_id == "ceef66a5-a545-413b-9312-78a53caadbc4"
    assert [(t.code, str(t.rate)) for t in chart.tax_codes] == [("OUTPUT", "8.875")]
    assert [(d.kind, d.name) for d in chart.dimensions] == [("Region", "East")]
    assert accounts.calls[0].request.headers["Xero-tenant-id"] == TENANT


@respx.mock
def test_push_puts_a_posted_manual_journal_with_signed_line_amounts(http):
    find = respx.get(f"{API}/ManualJournals").respond(200, json=X["none"])
    create = respx.put(f"{API}/ManualJournals").respond(200, json=X["created"])
    sample = journal()
    sample.lines[1].dimensions.update({"Region": "East"})
    assert adapter(http).push(sample) == PushResult(JOURNAL_ID, True, EntryState.POSTED, "")
    assert find.calls[0].request.url.params["where"] == 'Narration.StartsWith("[TB-41]")'
    request = create.calls[0].request
    assert request.headers["Idempotency-Key"] == "TB-41"
    sent = body(request)["ManualJournals"][0]
    assert (sent["Narration"], sent["Date"], sent["Status"], sent["LineAmountTypes"]) == (
        "[TB-41] Order 1001",
        "2026-03-14",
        "POSTED",
        "NoTax",
    )
    assert sent["JournalLines"][0] == {
        "LineAmount": 225.3,
        "AccountCode": "1210",
        "Description": "Shopify payments clearing",
    }
    assert sent["JournalLines"][1] == {
        "LineAmount": -200.0,
        "AccountCode": "4010",
        "Description": "Sales - apparel",
        "Tracking": [{"Name": "Region", "Option": "East"}],
    }
    assert b'"LineAmount":-200.00' in request.content


@respx.mock
def test_repush_after_timeout_finds_the_journal_by_narration(http):
    respx.get(f"{API}/ManualJournals").mock(
        side_effect=[httpx.Response(200, json=X["none"]), httpx.Response(200, json=X["found"])]
    )
    create = respx.put(f"{API}/ManualJournals").mock(side_effect=httpx.ReadTimeout("timed out"))
    xero = adapter(http)
    with pytest.raises(ErpError):
        xero.push(journal())
    assert xero.push(journal()) == PushResult(JOURNAL_ID, False, EntryState.POSTED, "")
    assert create.call_count == 1


@respx.mock
def test_a_voided_journal_with_the_reference_does_not_count(http):
    respx.get(f"{API}/ManualJournals").respond(200, json=X["found_voided"])
    assert adapter(http).find("TB-41") is None


@respx.mock
def test_reversal_is_a_mirrored_journal_dated_on_the_reversal_day(http):
    respx.get(f"{API}/ManualJournals").respond(200, json=X["none"])
    create = respx.put(f"{API}/ManualJournals").respond(200, json=X["created"])
    adapter(http).reverse(external_id=JOURNAL_ID, original=journal(), reference="TB-41-R", date=dt.date(2026, 3, 20))
    sent = body(create.calls[0].request)["ManualJournals"][0]
    assert (sent["Narration"], sent["Date"]) == ("[TB-41-R] Reversal of TB-41", "2026-03-20")
    assert [line["LineAmount"] for line in sent["JournalLines"]] == [-225.3, 200.0, 17.75, 7.55]


@respx.mock
def test_expired_token_refreshes_with_the_client_id_and_retries(http):
    saved: list[dict] = []
    route = respx.get(f"{API}/ManualJournals").mock(
        side_effect=[httpx.Response(401, json=X["token_expired"]), httpx.Response(200, json=X["found"])]
    )
    token = respx.post(TOKEN).respond(200, json=X["refreshed"])
    assert adapter(http, saved).find("TB-41").external_id == JOURNAL_ID
    assert parse_qs(token.calls[0].request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["old-refresh"],
        "client_id": ["xero-client"],
    }
    assert route.calls[1].request.headers["Authorization"] == "Bearer eyJ-new-access"
    assert saved[-1]["refresh_token"] == "new-refresh"


@pytest.mark.parametrize(
    ("answer", "kind", "words"),
    [
        (
            "lock_date",
            ErrorKind.CLOSED_PERIOD,
            "Xero: The document date cannot be before the period lock date 31 Dec 2025.",
        ),
        ("bad_account", ErrorKind.UNKNOWN_ACCOUNT, "Xero: Account code '4999' is not a valid code for this document."),
        ("unbalanced", ErrorKind.VALIDATION, "Xero: The total debits (225.30) must equal total credits (225.00)"),
    ],
)
@respx.mock
def test_validation_errors_keep_the_erps_words(http, answer, kind, words):
    respx.get(f"{API}/ManualJournals").respond(200, json=X["none"])
    respx.put(f"{API}/ManualJournals").respond(400, json=X[answer])
    with pytest.raises(ErpError) as error:
        adapter(http).push(journal())
    assert (error.value.kind, error.value.message) == (kind, words)


@respx.mock
def test_minute_rate_limit_is_named(http):
    respx.get(f"{API}/ManualJournals").respond(
        429, text="", headers={"Retry-After": "12", "X-Rate-Limit-Problem": "minute"}
    )
    with pytest.raises(ErpError) as error:
        adapter(http).find("TB-41")
    assert (error.value.kind, error.value.message, error.value.retry_after) == (
        ErrorKind.RATE_LIMITED,
        "Xero: rate limit exceeded (minute limit).",
        12.0,
    )


@respx.mock
def test_connect_flow_uses_pkce_and_lists_organisations(http):
    start = XeroAdapter.authorization_start(client_id="xero-client", redirect_uri="https://acme.example/cb")
    query = parse_qs(start.url.split("?", 1)[1])
    challenge = base64.urlsafe_b64encode(hashlib.sha256(start.code_verifier.encode()).digest()).rstrip(b"=").decode()
    assert (query["code_challenge"], query["code_challenge_method"], query["state"]) == (
        [challenge],
        ["S256"],
        [start.state],
    )
    token = respx.post(TOKEN).respond(200, json=X["refreshed"])
    respx.get("https://api.xero.com/connections").respond(200, json=X["connections"])
    xero = XeroAdapter(config={"client_id": "xero-client", "tenant_id": ""}, credentials={}, http=http)
    xero.authorization_complete(
        code="auth-code", redirect_uri="https://acme.example/cb", code_verifier=start.code_verifier
    )
    assert parse_qs(token.calls[0].request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["auth-code"],
        "redirect_uri": ["https://acme.example/cb"],
        "code_verifier": [start.code_verifier],
        "client_id": ["xero-client"],
    }
    assert [(c["tenantId"], c["tenantName"]) for c in xero.connections()] == [(TENANT, "Acme Outfitters")]
