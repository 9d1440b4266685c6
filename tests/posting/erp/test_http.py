"""How ERP adapters use the shared client: the ERP's own answer reaches the adapter whatever its
status, reads are retried, writes are sent once, and failures without an answer are ErpErrors."""

from __future__ import annotations

import httpx
import pytest
import respx

from core.http import client as connectors_http
from core.http import netsafety
from posting.erp.base import ErpError, ErrorKind
from posting.erp.http import ErpHttp, client_factory

URL = "https://erp.example/api/thing"


@respx.mock
def test_a_write_is_sent_once_and_the_erps_answer_is_returned(http):
    route = respx.post(URL).respond(503, json={"message": "maintenance"})
    response = http.send("POST", URL, label="ERP", json={})
    assert (response.status_code, response.json(), route.call_count) == (503, {"message": "maintenance"}, 1)


@respx.mock
def test_a_read_is_retried_by_the_shared_client(http):
    route = respx.get(URL).mock(side_effect=[httpx.Response(502), httpx.Response(200, json={"ok": True})])
    assert http.send("GET", URL, label="ERP").json() == {"ok": True}
    assert route.call_count == 2


@respx.mock
def test_a_rejection_keeps_the_full_body(http):
    body = {"Fault": {"Error": [{"Message": "x" * 400}]}}
    respx.post(URL).respond(400, json=body)
    assert http.send("POST", URL, label="ERP").json() == body  # the shared client's summary stops at 300


@respx.mock
def test_timeout_is_an_erp_timeout(http):
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ErpError) as error:
        http.send("POST", URL, label="ERP")
    assert (error.value.kind, error.value.message) == (
        ErrorKind.TIMEOUT,
        f"ERP did not answer in time: POST {URL} timed out (ReadTimeout).",
    )


def test_exhausted_local_rate_limit_is_rate_limited(monkeypatch):
    def full(self, *, max_wait=30.0):
        raise connectors_http.RateLimited("Local rate limit of 1/s is exhausted.", retry_after=0.4)

    monkeypatch.setattr(connectors_http.RateLimiter, "acquire", full)
    client = ErpHttp(client_factory(rate_per_second=1))
    with pytest.raises(ErpError) as error:
        client.send("GET", URL, label="Xero")
    assert (error.value.kind, error.value.retry_after) == (ErrorKind.RATE_LIMITED, 0.4)


def test_a_host_on_a_private_address_is_refused(monkeypatch, settings):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["10.0.0.5"])
    client = ErpHttp(client_factory())
    with pytest.raises(ErpError) as error:
        client.send("POST", "https://odoo.internal/jsonrpc", label="Odoo")
    assert (error.value.kind, error.value.message) == (
        ErrorKind.VALIDATION,
        "Odoo: The URL points at a private, loopback, link-local or reserved address.",
    )
