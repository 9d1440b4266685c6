"""NetSuite adapter against recorded exchanges (tests/fixtures/netsuite/exchanges.json) and the
OAuth 1.0a signature against RFC 5849's own worked example."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

import httpx
import pytest
import respx

from posting.erp.base import EntryState, ErpError, ErrorKind, PushResult
from posting.erp.netsuite import NetSuiteAdapter, oauth1_header, percent_encode, signature_base_string
from tests.posting.erp.conftest import body, exchanges, journal

X = exchanges("netsuite")
REST = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest"
IDS = {"1210": "112", "4010": "54", "2100": "113", "4300": "55"}


def adapter(http) -> NetSuiteAdapter:
    return NetSuiteAdapter(
        config={"account_id": "1234567_SB1", "subsidiary_id": "1"},
        credentials={"consumer_key": "ck", "consumer_secret": "cs", "token_id": "tk", "token_secret": "ts"},
        http=http,
    )


def test_signature_base_string_matches_rfc_5849_example():
    # RFC 5849 §3.4.1.1: the example request and its signature base string, verbatim.
    base = signature_base_string(
        "POST",
        "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
        {
            "oauth_consumer_key": "9djdj82h48djs9d2",
            "oauth_token": "kkk9d7dh3k39sjv7",
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": "137131201",
            "oauth_nonce": "7d8f3e4a",
        },
        form=[("c2", ""), ("a3", "2 q")],
    )
    assert base == (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
        "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1"
        "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    )


def test_header_is_hmac_sha256_of_the_base_string_with_both_secrets():
    url = f"{REST}/record/v1/journalEntry"
    header = oauth1_header(
        method="POST",
        url=url,
        realm="1234567_SB1",
        consumer_key="ck",
        consumer_secret="c s",
        token="tk",
        token_secret="t&s",
        nonce="n0nce",
        timestamp="1773482400",
    )
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    params = {key: value for key, value in fields.items() if key.startswith("oauth_") and key != "oauth_signature"}
    expected = base64.b64encode(
        hmac.new(b"c%20s&t%26s", signature_base_string("POST", url, params).encode(), hashlib.sha256).digest()
    ).decode()
    assert fields["realm"] == "1234567_SB1"
    assert fields["oauth_signature_method"] == "HMAC-SHA256"
    assert fields["oauth_signature"] == percent_encode(expected)


@respx.mock
def test_chart_import_runs_suiteql_and_skips_statistical_accounts(http):
    def answer(request: httpx.Request) -> httpx.Response:
        query = body(request)["q"]
        table = query.rsplit(" ", 1)[1]
        data = {"account": X["accounts"], "salestaxitem": X["tax_items"], "department": X["departments"]}
        return httpx.Response(200, json=data.get(table, X["empty"]))

    route = respx.post(f"{REST}/query/v1/suiteql").mock(side_effect=answer)
    chart = adapter(http).fetch_chart()
    assert [(a.external_id, a.code, a.type, a.active) for a in chart.accounts] == [
        ("112", "1210", "asset", True),
        ("113", "2100", "liability", True),
        ("54", "4010", "revenue", True),
        ("55", "4300", "revenue", False),
    ]
    assert [t.code for t in chart.tax_codes] == ["NY-NYC"]
    assert [(d.kind, d.external_id) for d in chart.dimensions] == [("department", "3")]
    request = route.calls[0].request
    assert request.headers["Prefer"] == "transient"
    assert request.headers["Authorization"].startswith('OAuth realm="1234567_SB1", oauth_consumer_key="ck"')
    assert dict(request.url.params) == {"limit": "1000", "offset": "0"}


@respx.mock
def test_push_looks_up_the_external_id_then_creates_and_reads_the_location(http):
    find = respx.get(f"{REST}/record/v1/journalEntry/eid:TB-41").respond(404, json=X["not_found"])
    create = respx.post(f"{REST}/record/v1/journalEntry").respond(
        204, headers={"Location": f"{REST}/record/v1/journalEntry/8812"}
    )
    assert adapter(http).push(journal(**IDS)) == PushResult("8812", True, EntryState.POSTED, "")
    assert find.called
    sent = body(create.calls[0].request)
    assert sent == {
        "externalId": "TB-41",
        "subsidiary": {"id": "1"},
        "tranDate": "2026-03-14",
        "memo": "Order 1001",
        "line": {
            "items": [
                {"account": {"id": "112"}, "memo": "Shopify payments clearing", "debit": 225.3, "class": {"id": "5"}},
                {"account": {"id": "54"}, "memo": "Sales - apparel", "credit": 200.0, "class": {"id": "5"}},
                {"account": {"id": "113"}, "memo": "Sales tax US-NY-NYC", "credit": 17.75},
                {"account": {"id": "55"}, "memo": "Shipping income", "credit": 7.55},
            ]
        },
    }


@respx.mock
def test_repush_after_timeout_finds_the_entry_by_external_id(http):
    respx.get(f"{REST}/record/v1/journalEntry/eid:TB-41").mock(
        side_effect=[httpx.Response(404, json=X["not_found"]), httpx.Response(200, json=X["found"])]
    )
    create = respx.post(f"{REST}/record/v1/journalEntry").mock(side_effect=httpx.ReadTimeout("timed out"))
    netsuite = adapter(http)
    with pytest.raises(ErpError):
        netsuite.push(journal(**IDS))
    assert netsuite.push(journal(**IDS)) == PushResult("8812", False, EntryState.POSTED, "JE1042")
    assert create.call_count == 1


@respx.mock
def test_status_reports_pending_approval(http):
    respx.get(f"{REST}/record/v1/journalEntry/8812").respond(200, json=X["pending"])
    assert adapter(http).status("8812").state == EntryState.PENDING_APPROVAL


@respx.mock
def test_reversal_is_a_mirrored_entry_under_its_own_external_id(http):
    respx.get(f"{REST}/record/v1/journalEntry/eid:TB-41-R").respond(404, json=X["not_found"])
    create = respx.post(f"{REST}/record/v1/journalEntry").respond(
        204, headers={"Location": f"{REST}/record/v1/journalEntry/8813"}
    )
    result = adapter(http).reverse(
        external_id="8812", original=journal(**IDS), reference="TB-41-R", date=dt.date(2026, 3, 20)
    )
    assert result == PushResult("8813", True, EntryState.POSTED, "")
    sent = body(create.calls[0].request)
    assert (sent["externalId"], sent["tranDate"]) == ("TB-41-R", "2026-03-20")
    assert sent["line"]["items"][0] == {
        "account": {"id": "112"},
        "memo": "Shopify payments clearing",
        "credit": 225.3,
        "class": {"id": "5"},
    }


@pytest.mark.parametrize(
    ("answer", "status", "kind", "words"),
    [
        (
            "closed_period",
            400,
            ErrorKind.CLOSED_PERIOD,
            "NetSuite: Error while accessing a resource. The accounting period is closed. You cannot post to a closed "
            "period.",
        ),
        (
            "bad_account",
            400,
            ErrorKind.UNKNOWN_ACCOUNT,
            "NetSuite: Error while accessing a resource. Invalid account reference key 999 for subsidiary 1.",
        ),
        (
            "invalid_login",
            401,
            ErrorKind.RECONNECT,
            "NetSuite: Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
            "Setup > Users/Roles > User Management > View Login Audit Trail.",
        ),
    ],
)
@respx.mock
def test_errors_keep_the_erps_words(http, answer, status, kind, words):
    respx.get(f"{REST}/record/v1/journalEntry/eid:TB-41").respond(404, json=X["not_found"])
    respx.post(f"{REST}/record/v1/journalEntry").respond(status, json=X[answer])
    with pytest.raises(ErpError) as error:
        adapter(http).push(journal(**IDS))
    assert (error.value.kind, error.value.message) == (kind, words)
