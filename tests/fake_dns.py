"""A fake TXT resolver for custom-domain verification (settings.test.DOMAIN_TXT_RESOLVER).

Tests publish records with `publish(name, value)` (the `fake_dns` fixture clears them); a name in
`FAILING` makes the lookup raise DnsLookupError, like a timeout."""

from __future__ import annotations

from tenants.domains import DnsLookupError

RECORDS: dict[str, list[str]] = {}
FAILING: set[str] = set()


def publish(name: str, value: str) -> None:
    RECORDS.setdefault(name, []).append(value)


def withdraw(name: str) -> None:
    RECORDS.pop(name, None)


def clear() -> None:
    RECORDS.clear()
    FAILING.clear()


def txt_records(name: str) -> list[str]:
    if name in FAILING:
        raise DnsLookupError(f"DNS lookup of {name} failed: Timeout")
    return list(RECORDS.get(name, []))
