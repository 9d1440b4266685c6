"""SSRF guard for URLs that partners or tenants set (outbound webhooks, vendor and ERP base URLs):
http(s) only, no credentials in the URL, and every address the host resolves to must be public."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def resolve_host(host: str) -> list[str]:
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


def url_check(url: str, *, allow_private: bool, resolve: Callable[[str], list[str]] | None = None) -> str:
    """The stripped URL if it is safe to call, else UnsafeUrl with a message for the person who set it."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Use an http:// or https:// URL with a host name.", "invalid_scheme")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL must not carry credentials.", "invalid_url")
    if allow_private:
        return url
    try:
        addresses = (resolve or resolve_host)(parts.hostname)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"{parts.hostname} does not resolve.", "unresolvable") from exc
    if not addresses or not all(address_is_public(address) for address in addresses):
        raise UnsafeUrl("The URL points at a private, loopback, link-local or reserved address.", "private_address")
    return url
