"""The one outbound HTTP client and its SSRF guard. Every call out of the portal (sales channels,
ERPs, OAuth token endpoints, outbound webhooks) goes through `outbound_client`.

- `url_check` is the save-time check of a URL a person typed: http(s) only, no credentials in the
  URL, and every address the host resolves to must be public;
- `GuardedTransport` is the use-time check: for every request it resolves the host once, refuses
  private, loopback, link-local (cloud metadata), reserved, multicast and unspecified addresses, and
  pins the connection to the address it checked. The TCP connection is opened to that IP while TLS
  still sends the host name (SNI) and verifies the certificate against it, so a DNS answer that
  changes between the check and the connect (DNS rebinding) cannot move the request elsewhere;
- `allow_private` is the test/dev-only override (CONNECTORS_ALLOW_PRIVATE_URLS,
  WEBHOOKS_ALLOW_PRIVATE); production settings pin it off.

Host parts that config contributes to a vendor URL are validated here too (a NetSuite account id,
a Shopify shop domain, an ERP base URL), at save time and again when the URL is built.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore
import httpx
import structlog

log = structlog.get_logger(__name__)

NETSUITE_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SHOPIFY_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$")
CONNECT_FAILED = "could not connect to the vendor"


class UnsafeUrl(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def resolve_host(host: str) -> list[str]:
    """Module-level so tests can inject a resolver; every check looks it up at call time."""
    return [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def url_shape_check(url: str, *, https_only: bool = False) -> SplitResult:
    """The URL's parts if it is an http(s) URL with a host and no credentials, else UnsafeUrl."""
    parts = urlsplit((url or "").strip())
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        if https_only:
            raise UnsafeUrl("Use an https:// URL with a host name.", "invalid_scheme")
        raise UnsafeUrl("Use an http:// or https:// URL with a host name.", "invalid_scheme")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not carry credentials.", "invalid_url")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise UnsafeUrl("The URL's port is not valid.", "invalid_url") from exc
    return parts


def host_addresses_check(
    host: str, *, allow_private: bool, resolve: Callable[[str], list[str]] | None = None
) -> list[str]:
    """Resolve `host` once; the addresses if every one is public (or the override is on)."""
    try:
        addresses = (resolve or resolve_host)(host)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"{host} does not resolve.", "unresolvable") from exc
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve.", "unresolvable")
    if not allow_private and not all(address_is_public(address) for address in addresses):
        raise UnsafeUrl("The URL points at a private, loopback, link-local or reserved address.", "private_address")
    return addresses


def url_check(
    url: str, *, allow_private: bool, resolve: Callable[[str], list[str]] | None = None, https_only: bool = False
) -> str:
    """The stripped URL if it is safe to call, else UnsafeUrl with a message for the person who set it.
    A name that resolves to a non-public address is refused now; a name that does not resolve yet
    (DNS not set up, no network where the demo is seeded) is accepted, because the guarded client
    resolves and checks again on every connection and refuses it there."""
    parts = url_shape_check(url, https_only=https_only)
    if not allow_private:
        try:
            host_addresses_check(parts.hostname, allow_private=False, resolve=resolve)
        except UnsafeUrl as error:
            if error.code != "unresolvable":
                raise
    return (url or "").strip()


def base_url_check(url: str, *, allow_private: bool, resolve: Callable[[str], list[str]] | None = None) -> str:
    """A partner-set base URL (Odoo, ERPNext, WooCommerce): https, or http under the override only."""
    return url_check(url, allow_private=allow_private, resolve=resolve, https_only=not allow_private)


def netsuite_account_id_check(value: Any) -> str:
    """A NetSuite account id becomes a host name (`<id>.suitetalk.api.netsuite.com`): letters,
    digits, `_` and `-` only, so nothing in it can end the host part of the URL."""
    if not isinstance(value, str) or not NETSUITE_ACCOUNT_ID.match(value):
        raise UnsafeUrl(
            "A NetSuite account id has letters, digits, '_' and '-' only (e.g. 1234567_SB1).", "invalid_account_id"
        )
    return value


def trace_id_new() -> str:
    return uuid.uuid4().hex[:16]


def connect_failure_message(error: BaseException, *, what: str = "") -> str:
    """What a person sees when a connection failed: generic, with a trace id that finds the real
    error in the logs. The raw error (refused, reset, unreachable…) is never shown: it would let
    anyone who can set a URL probe which hosts and ports answer."""
    trace_id = trace_id_new()
    log.warning("outbound.connect_failed", trace_id=trace_id, what=what, error=f"{type(error).__name__}: {error}")
    return f"{CONNECT_FAILED} (trace id {trace_id})"


class _PinnedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to the address `GuardedTransport` checked for the host."""

    def __init__(self) -> None:
        self.pins: dict[str, str] = {}

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        address = self.pins.get(host)
        if address is None:
            raise UnsafeUrl(f"{host} was not checked before connecting.", "unchecked")
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport that checks every request's host and connects to the checked address."""

    def __init__(
        self,
        *,
        allow_private: bool,
        verify: bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),  # noqa: B008
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.allow_private = allow_private
        self.backend = _PinnedBackend()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise UnsafeUrl("Use an http:// or https:// URL with a host name.", "invalid_scheme")
        # The ASCII (IDNA) form: the name the connection pool hands the backend for this host.
        host = request.url.raw_host.decode("ascii")
        # Looked up through the module at call time, so a test's injected resolver is the one used.
        addresses = host_addresses_check(host, allow_private=self.allow_private, resolve=resolve_host)
        self.backend.pins[host] = addresses[0]
        return super().handle_request(request)


def outbound_client(*, allow_private: bool, **kwargs: Any) -> httpx.Client:
    """An httpx.Client on the guarded transport: no proxies from the environment, no redirects
    followed (a redirect could leave the checked host)."""
    kwargs.setdefault("follow_redirects", False)
    return httpx.Client(transport=GuardedTransport(allow_private=allow_private), trust_env=False, **kwargs)
