"""Helpers every vendor package shares. Source side: exact money parsing, timestamps, versions,
totals. Channel side: the tag that carries a promotion's key and version on the channel object,
mapping a vendor's validation answer to `ChannelRejected`, and quantity checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from commerce.documents import CanonicalOrder, ShipToDoc
from connectors.vendors.base import (
    ChannelAck,
    ChannelAdapter,
    ChannelRejected,
    ChannelUnsupported,
    NormaliseError,
    PriceSpec,
    PromotionSpec,
    WebhookRejected,
)
from core.http import netsafety
from core.http.client import BadResponse, RequestRejected, VendorClient
from core.money import MoneyError, currency_check, from_minor, quantize, to_decimal


def money(value: Any, currency: str, *, field: str = "amount") -> Decimal:
    """An exact amount in `currency`; more decimals than the currency has is an error, not a rounding."""
    if value is None or isinstance(value, bool | float):
        raise NormaliseError(f"{field}: {value!r} is not an amount.")
    try:
        amount = to_decimal(str(value))
        exact = quantize(amount, currency)
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None
    if exact != amount:
        raise NormaliseError(f"{field}: {value} has more decimals than {currency} allows.")
    return exact


def minor(value: Any, currency: str, *, field: str = "amount") -> Decimal:
    """Stripe/Square integer minor units → Decimal."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormaliseError(f"{field}: {value!r} is not a whole number of minor units.")
    try:
        return from_minor(value, currency)
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None


def timestamp(value: Any, *, field: str = "timestamp") -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if not isinstance(value, str) or not value:
        raise NormaliseError(f"{field}: {value!r} is not a timestamp.")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NormaliseError(f"{field}: {value!r} is not an ISO 8601 timestamp.") from None
    if moment.tzinfo is None:
        raise NormaliseError(f"{field}: {value!r} has no time zone.")
    return moment


def optional_timestamp(value: Any, *, field: str = "timestamp") -> dt.datetime | None:
    return None if value in (None, "") else timestamp(value, field=field)


def version(moment: dt.datetime) -> int:
    """A monotonic source version from the vendor's updated-at: milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def require(payload: Any, *keys: str) -> Any:
    """payload[k1][k2]…, or NormaliseError naming the missing path."""
    value = payload
    path = []
    for key in keys:
        path.append(key)
        if not isinstance(value, dict) or value.get(key) is None:
            raise NormaliseError(f"The payload has no {'.'.join(path)}.")
        value = value[key]
    return value


def currency_code(value: Any, *, field: str = "currency") -> str:
    """An ISO 4217 code the money helper knows the minor unit of; anything else is an exception
    naming the field, never a guess at two decimals (DESIGN.md §4)."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise NormaliseError(f"{field}: {value!r} is not a currency code.")
    try:
        return currency_check(value.upper())
    except MoneyError as error:
        raise NormaliseError(f"{field}: {error}") from None


def line_level_total(order: CanonicalOrder) -> Decimal:
    """What the customer paid according to the lines (the posting builder's total): gross less
    discounts, plus shipping, plus tax when prices exclude it."""
    gross = sum((line.gross for line in order.lines), Decimal(0))
    discounts = sum((discount.amount for discount in order.discounts), Decimal(0))
    shipping = sum((shipping.amount for shipping in order.shipping_lines), Decimal(0))
    taxes = sum((tax.amount for line in order.lines for tax in line.taxes), Decimal(0)) + sum(
        (tax.amount for shipping in order.shipping_lines for tax in shipping.taxes), Decimal(0)
    )
    return gross - discounts + shipping + (Decimal(0) if order.taxes_included else taxes)


def hmac_base64_verify(*, headers: Mapping[str, str], header: str, secret: str, message: bytes, vendor: str) -> None:
    """Raise WebhookRejected unless `header` holds base64(HMAC-SHA256(secret, message)) (Shopify,
    WooCommerce and Square sign their webhooks this way; they differ in what `message` is)."""
    given = headers.get(header, "")
    if not given or not secret:
        raise WebhookRejected(f"Missing {header}.")
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, given.strip().encode()):
        raise WebhookRejected(f"The {vendor} signature does not match.")


def config_url_problem(url: str, *, base: bool = False) -> str | None:
    """Why a URL from a connection's config may not be called, or None: it must be public (and a
    base URL https) unless the dev/test override CONNECTORS_ALLOW_PRIVATE_URLS is on."""
    check = netsafety.base_url_check if base else netsafety.url_check
    try:
        check(url, allow_private=settings.CONNECTORS_ALLOW_PRIVATE_URLS, resolve=netsafety.resolve_host)
    except netsafety.UnsafeUrl as error:
        return error.message
    return None


def body(value: Any) -> bytes:
    """Canonical JSON bytes for a polled record (stable, so an unchanged record hashes the same)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


T = TypeVar("T")

# How far ahead of now a price list may start and still be sent now (channels cannot schedule prices).
PRICE_TOLERANCE = dt.timedelta(minutes=5)

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
def rejections(
    vendor: str, extract: Callable[[Any], str | None], *, doing: str, missing_ok: bool = False
) -> Iterator[None]:
    """Turn the vendor's refusal of a request (4xx other than auth and rate limit) into ChannelRejected
    carrying the vendor's message. Auth, rate-limit, timeout and 5xx errors pass through unchanged:
    they are the connectors' retryable or credential problems, not a verdict on the promotion.
    `missing_ok`: a 404 is no refusal (deleting what is already gone)."""
    try:
        yield
    except RequestRejected as error:
        if missing_ok and error.status_code == 404:
            return
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


def get_or_none(client: VendorClient, path: str) -> Any:
    """GET `path`; None when the channel answers 404 (the object is not there)."""
    try:
        return client.get(path)
    except RequestRejected as error:
        if error.status_code == 404:
            return None
        raise


def get_member(client: VendorClient, path: str, key: str, *, vendor: str, what: str) -> dict | None:
    """The object a vendor wraps under `key` in its answer to GET `path`; None when not there (404)."""
    data = get_or_none(client, path)
    if data is None:
        return None
    found = data.get(key) if isinstance(data, dict) else None
    if not isinstance(found, dict):
        raise BadResponse(f"{vendor} answered {what} without `{key}`.")
    return found


def absent(external_id: str) -> ChannelAck:
    """The acknowledgement for a channel object that is not there."""
    return ChannelAck(external_id=str(external_id), version=None, state="absent")


def tagged_ack(external_id: str, title: str | None, raw: Mapping[str, Any]) -> ChannelAck:
    """What a channel object holds whose title carries the promotion tag: the tag's version, and
    paused while the tag says so."""
    tag = tag_parse(title)
    return ChannelAck(
        external_id=str(external_id),
        version=tag.version if tag else None,
        state="paused" if tag and tag.paused else "active",
        raw=raw,
    )


def value_reasons(spec: PromotionSpec) -> list[str]:
    """The checks of a promotion's value every channel makes: a percentage in (0, 100], an amount above 0."""
    reasons = []
    if spec.kind == "percent_off" and not (0 < spec.value <= 100):
        reasons.append("a percentage must be above 0 and at most 100")
    if spec.kind == "amount_off" and spec.value <= 0:
        reasons.append("an amount off must be above 0")
    return reasons


def supported_check(channel: ChannelAdapter, vendor: str, spec: PromotionSpec) -> None:
    """Raise ChannelUnsupported listing why `channel` cannot carry `spec`, before anything is sent."""
    reasons = channel.unsupported(spec)
    if reasons:
        raise ChannelUnsupported(f"{vendor} cannot carry {spec.key} v{spec.version}: {'; '.join(reasons)}.")


def price_now_check(vendor: str, spec: PriceSpec) -> None:
    """Channels set a price at once: a price list starting later must be sent when it starts."""
    if spec.starts_at > timezone.now() + PRICE_TOLERANCE:
        raise ChannelRejected(
            f"{vendor} cannot schedule a price: send price list {spec.key} v{spec.version} at {spec.starts_at}."
        )


def store_currency_check(vendor: str, store_currency: Any, currency: str) -> None:
    """Amounts are sent in the tenant currency: refuse a store that sells in another one."""
    if store_currency != currency:
        raise ChannelRejected(
            f"The {vendor} store sells in {store_currency}, not {currency}.",
            detail={"store_currency": store_currency, "currency": currency},
        )


def destination(country: Any, region: Any) -> dict[str, str]:
    """An order's ship-to country (ISO 3166-1 alpha-2) and region code as CanonicalOrder fields:
    upper case, "" when the vendor gave none or something that is not a short code."""
    country_code = str(country or "").strip().upper()
    region_code = str(region or "").strip().upper()
    if len(country_code) != 2 or not country_code.isalpha():
        return {"ship_country": "", "ship_region": ""}
    return {"ship_country": country_code, "ship_region": region_code if 0 < len(region_code) <= 10 else ""}


def ship_to_doc(**values: Any) -> ShipToDoc | None:
    """A shipping address from a vendor's fields (None and blanks become ""), or None when the
    vendor gave no street, city or postal code: nothing a warehouse could ship to."""
    doc = ShipToDoc(**{key: str(value or "").strip() for key, value in values.items()})
    return doc if doc.street1 or doc.city or doc.postal_code else None
