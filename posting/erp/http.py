"""ERP adapters' use of the one outbound client (`core.http.client.VendorClient`).

Two things differ from a sales-channel sync, and both are settled here rather than in each adapter:
- the ERP's own error body matters (it is the message a person must read: "the period is
  closed", "account 4999 does not exist"), while the shared client turns any 4xx/5xx into an
  exception carrying a truncated summary. A response hook keeps the last response of the
  client, so `send` can hand the adapter the ERP's full answer whatever its status;
- a write that timed out may have been applied: retrying it blindly could post twice. Writes go
  out with a single attempt; the push pipeline looks the reference up before any new attempt.

One `VendorClient` is made per host an adapter talks to (QuickBooks and Xero keep tokens and data
on different hosts, and the shared client stays on the host it was made for).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from core.http import netsafety
from core.http.client import (
    BadResponse,
    ConnectorError,
    RateLimited,
    UnsafeUrl,
    VendorClient,
    VendorTimeout,
    VendorUnavailable,
)
from posting.erp.base import ErpError, ErrorKind


class ResponseKeeper:
    """An httpx response hook that remembers the last response of its client."""

    def __init__(self) -> None:
        self.last: httpx.Response | None = None

    def __call__(self, response: httpx.Response) -> None:
        self.last = response


ClientFactory = Callable[..., VendorClient]


def client_factory(
    *,
    connection_id: int | None = None,
    secrets: tuple[str, ...] = (),
    rate_per_second: int | None = None,
) -> ClientFactory:
    """Build VendorClients for one connection. Every host, vendor-owned (Intuit, Xero, NetSuite) or
    typed by a person (an Odoo server), passes the shared client's SSRF guard on every call."""

    def build(base_url: str, keeper: ResponseKeeper) -> VendorClient:
        return VendorClient(
            base_url=base_url,
            connection_id=connection_id,
            secrets=secrets,
            rate_per_second=rate_per_second,
            on_response=keeper,
            headers={"Accept": "application/json"},
        )

    return build


class ErpHttp:
    """What an adapter calls: `send` returns the ERP's response whatever its status, and raises
    ErpError only when there is no response to read (timeout, unreachable, unsafe URL)."""

    def __init__(self, factory: ClientFactory | None = None) -> None:
        self.factory = factory or client_factory()
        self._clients: dict[str, tuple[VendorClient, ResponseKeeper]] = {}

    def _client(self, url: str) -> tuple[VendorClient, ResponseKeeper]:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in self._clients:
            keeper = ResponseKeeper()
            self._clients[base] = (self.factory(base, keeper), keeper)
        return self._clients[base]

    def send(self, method: str, url: str, *, label: str, retry: bool | None = None, **kwargs) -> httpx.Response:
        """`retry` defaults to GET only: a write is sent once (see the module doc)."""
        client, keeper = self._client(url)
        keeper.last = None
        attempts = client.max_attempts
        client.max_attempts = attempts if (method == "GET" if retry is None else retry) else 1
        try:
            return client.request(method, url, **kwargs)
        except UnsafeUrl as error:
            raise ErpError(ErrorKind.VALIDATION, f"{label}: {error.message}") from None
        except RateLimited as error:
            if keeper.last is not None and error.status_code is not None:
                return keeper.last  # the ERP's own 429: the adapter reads its words and Retry-After
            raise ErpError(ErrorKind.RATE_LIMITED, f"{label}: {error.message}", retry_after=error.retry_after) from None
        except VendorTimeout as error:
            raise ErpError(ErrorKind.TIMEOUT, f"{label} did not answer in time: {error.message}") from None
        except (VendorUnavailable, BadResponse, ConnectorError) as error:
            if keeper.last is not None and error.status_code is not None:
                return keeper.last
            raise ErpError(ErrorKind.UNAVAILABLE, f"{label} could not be reached: {error.message}") from None
        finally:
            client.max_attempts = attempts

    def close(self) -> None:
        for client, _keeper in self._clients.values():
            client.close()


def partner_base_url(url: str, *, label: str) -> str:
    """A base URL from config (Odoo, ERPNext), checked again where it is used: https (http only
    under the dev/test override), no credentials. Its addresses are checked on every connection."""
    try:
        netsafety.url_shape_check(url, https_only=not settings.CONNECTORS_ALLOW_PRIVATE_URLS)
    except netsafety.UnsafeUrl as error:
        raise ErpError(ErrorKind.VALIDATION, f"{label}: {error.message}") from None
    return url.strip().rstrip("/")


def netsuite_account_id(value: object) -> str:
    """The account id, checked again where it becomes a host name."""
    try:
        return netsafety.netsuite_account_id_check(value)
    except netsafety.UnsafeUrl as error:
        raise ErpError(ErrorKind.VALIDATION, f"NetSuite: {error.message}") from None
