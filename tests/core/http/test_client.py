import httpx
import pytest
import respx

from core.http import client as http
from core.http import netsafety
from core.http.client import (
    AuthFailed,
    BadResponse,
    RateLimited,
    RequestRejected,
    UnsafeUrl,
    VendorClient,
    VendorTimeout,
    VendorUnavailable,
)

BASE = "https://acme.myshopify.com/admin/api/2025-07"


@pytest.fixture
def slept(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(http, "sleep", waits.append)
    return waits


@respx.mock
def test_retries_a_429_honouring_retry_after_then_succeeds(slept):
    route = respx.get(f"{BASE}/orders.json").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2.0"}),
            httpx.Response(503),
            httpx.Response(200, json={"orders": []}),
        ]
    )
    client = VendorClient(base_url=BASE)
    assert client.get("orders.json") == {"orders": []}
    assert route.call_count == 3
    assert slept[0] == 2.0
    assert 0 <= slept[1] <= http.BACKOFF_INITIAL * 2


@respx.mock
def test_gives_up_after_max_attempts_with_the_last_error(slept):
    respx.get(f"{BASE}/orders.json").mock(return_value=httpx.Response(502))
    with pytest.raises(VendorUnavailable) as error:
        VendorClient(base_url=BASE, max_attempts=3).get("orders.json")
    assert error.value.message == f"GET {BASE}/orders.json failed: HTTP 502."
    assert len(slept) == 2


@respx.mock
def test_timeouts_are_retried_then_raised(slept):
    respx.get(f"{BASE}/shop.json").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(VendorTimeout) as error:
        VendorClient(base_url=BASE, max_attempts=2).get("shop.json")
    assert error.value.message == f"GET {BASE}/shop.json timed out (ReadTimeout)."


@respx.mock
def test_auth_and_validation_errors_are_not_retried(slept):
    respx.get(f"{BASE}/a.json").mock(return_value=httpx.Response(401, text="bad token shpat_topsecret"))
    respx.post(f"{BASE}/b.json").mock(return_value=httpx.Response(422, json={"errors": "bad shpat_topsecret"}))
    client = VendorClient(base_url=BASE, secrets=["shpat_topsecret"])
    with pytest.raises(AuthFailed):
        client.get("a.json")
    with pytest.raises(RequestRejected) as error:
        client.json("POST", "b.json", json={})
    assert "shpat_topsecret" not in error.value.message
    assert error.value.message == f'POST {BASE}/b.json was rejected: HTTP 422: {{"errors":"bad [redacted]"}}'
    assert slept == []


@respx.mock
def test_html_instead_of_json_is_a_bad_response():
    respx.get(f"{BASE}/orders.json").mock(
        return_value=httpx.Response(200, text="<html><body>Log in</body></html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(BadResponse) as error:
        VendorClient(base_url=BASE).get("orders.json")
    assert "answered HTML instead of JSON" in error.value.message


@respx.mock
def test_invalid_json_is_a_bad_response():
    respx.get(f"{BASE}/orders.json").mock(
        return_value=httpx.Response(200, text='{"orders": [', headers={"Content-Type": "application/json"})
    )
    with pytest.raises(BadResponse) as error:
        VendorClient(base_url=BASE).get("orders.json")
    assert error.value.message == f"GET {BASE}/orders.json answered invalid JSON."


def test_redaction_of_known_secrets_query_parameters_and_bearer_tokens():
    text = "GET https://x/y?access_token=abc123&page=2 Authorization: Bearer sk_live_xyz password=hunter22 key ck_1234"
    assert http.redact(text, ["ck_1234"]) == (
        "GET https://x/y?access_token=[redacted]&page=2 Authorization: Bearer [redacted] "
        "password=[redacted] key [redacted]"
    )


@respx.mock
def test_every_host_is_checked_against_ssrf(settings, monkeypatch):
    settings.CONNECTORS_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["10.0.0.8"])
    client = VendorClient(base_url="https://erp.partner.example/api")
    with pytest.raises(UnsafeUrl) as error:
        client.get("orders")
    assert error.value.message == "The URL points at a private, loopback, link-local or reserved address."
    monkeypatch.setattr(netsafety, "resolve_host", lambda host: ["93.184.216.34"])
    respx.get("https://erp.partner.example/api/orders").mock(return_value=httpx.Response(200, json=[]))
    assert client.get("orders") == []


def test_next_page_links_must_stay_on_the_configured_host():
    client = VendorClient(base_url=BASE)
    with pytest.raises(UnsafeUrl):
        client.get("https://evil.example/admin/api/2025-07/orders.json?page_info=x")


@respx.mock
def test_redirects_are_not_followed(slept):
    respx.get(f"{BASE}/orders.json").mock(
        return_value=httpx.Response(302, headers={"Location": "http://169.254.169.254/"})
    )
    with pytest.raises(BadResponse):
        VendorClient(base_url=BASE).get("orders.json")


def test_retry_after_accepts_http_dates():
    assert http.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert http.retry_after_seconds("soon") is None
    assert http.retry_after_seconds("-3") == 0.0


@respx.mock
def test_per_connection_rate_limit_waits_for_the_next_window(world, slept, monkeypatch):
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    clock = iter([1000.2, 1000.3, 1000.4, 1001.05, 1001.1])
    monkeypatch.setattr(http, "clock", lambda: next(clock))
    respx.get(f"{BASE}/shop.json").mock(return_value=httpx.Response(200, json={}))
    client = VendorClient(base_url=BASE, connection_id=991, rate_per_second=2)
    client.get("shop.json")
    client.get("shop.json")
    assert slept == []
    client.get("shop.json")
    assert slept == [pytest.approx(0.601)]


def test_rate_limit_that_cannot_be_met_raises(world, monkeypatch, slept):
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    monkeypatch.setattr(http, "clock", lambda: 2000.5)
    limiter = http.RateLimiter(key="tb:test-limit", per_second=1)
    assert limiter.acquire() == 0.0
    with pytest.raises(RateLimited):
        limiter.acquire(max_wait=0.1)


def test_leaving_a_with_block_closes_the_clients_connections():
    with VendorClient(base_url=BASE) as client:
        assert isinstance(client, VendorClient)
        assert not client._client.is_closed
    assert client._client.is_closed
