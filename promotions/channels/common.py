"""Helpers the channel adapters share: the tag that carries a promotion's key and version on the
channel object, mapping a vendor's validation answer to `ChannelRejected`, and quantity checks."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from core.http.client import RequestRejected
from promotions.channels.base import ChannelRejected

T = TypeVar("T")

# "<title> [promo-42 v3]" or, while paused, "<title> [promo-42 v3 paused ends=2026-12-01T00:00:00+00:00]".
# The paused attributes hold what resume must restore (the channel has no pause flag of its own).
_TAG = re.compile(
    r"\s*\[(?P<key>[A-Za-z0-9_.:-]+) v(?P<version>\d+)(?P<paused> paused(?P<attrs>(?: [a-z_]+=[^\s\]]+)*))?\]\s*$"
)
_ATTR = re.compile(r" ([a-z_]+)=([^\s\]]+)")


@dataclass(frozen=True)
class Tag:
    key: str
    version: int
    paused: bool = False
    attrs: Mapping[str, str] = field(default_factory=dict)

    def render(self) -> str:
        text = f"{self.key} v{self.version}"
        if self.paused:
            text += " paused" + "".join(f" {name}={value}" for name, value in self.attrs.items())
        return f"[{text}]"


def tag_title(title: str, tag: Tag, *, limit: int = 255) -> str:
    """`title` with `tag` appended, the title shortened (never the tag) to fit the vendor's limit."""
    suffix = " " + tag.render()
    base = title_untagged(title).strip()
    room = max(0, limit - len(suffix))
    if len(base) > room:
        base = base[: max(0, room - 1)].rstrip() + "…" if room else ""
    return (base + suffix).strip()


def title_untagged(title: str) -> str:
    return _TAG.sub("", title or "")


def tag_parse(title: str | None) -> Tag | None:
    match = _TAG.search(title or "")
    if match is None:
        return None
    attrs = dict(_ATTR.findall(match.group("attrs") or ""))
    return Tag(match.group("key"), int(match.group("version")), bool(match.group("paused")), attrs)


def vendor_message(body: str, extract: Callable[[Any], str | None]) -> str:
    """The vendor's own words from an error body (JSON through `extract`, else the text itself)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.strip()[:500]
    try:
        message = extract(payload)
    except (AttributeError, KeyError, TypeError, IndexError):
        message = None
    return message or body.strip()[:500]


@contextmanager
def rejections(vendor: str, extract: Callable[[Any], str | None], *, doing: str) -> Iterator[None]:
    """Turn the vendor's refusal of a request (4xx other than auth and rate limit) into ChannelRejected
    carrying the vendor's message. Auth, rate-limit, timeout and 5xx errors pass through unchanged:
    they are the connectors' retryable or credential problems, not a verdict on the promotion."""
    try:
        yield
    except RequestRejected as error:
        message = vendor_message(error.body or error.message, extract)
        raise ChannelRejected(
            f"{vendor} refused to {doing}: {message}",
            detail={"status_code": error.status_code, "vendor_message": message},
        ) from error


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def whole_quantity(sku: str, value: Decimal) -> int:
    """Available-to-sell as the whole number a channel stores. Below zero shows as 0: a channel
    offering a negative quantity would read it as backorders, which ATS never promises."""
    if value != value.to_integral_value():
        raise ChannelRejected(f"{sku}: {value} is not a whole quantity.", detail={"sku": sku})
    return max(0, int(value))


def unknown_skus_reject(vendor: str, wanted: Sequence[str], found: Mapping[str, Any]) -> None:
    missing = sorted({sku for sku in wanted if sku not in found})
    if missing:
        raise ChannelRejected(
            f"{vendor} has no product with SKU {', '.join(missing)}.", detail={"unknown_skus": missing}
        )
