"""The contract between the promotions/inventory services and each sales channel (issue 8).

Services turn a `PromotionVersion` (or a price list, or an ATS figure) into the plain values below
and hand them to the channel's adapter; adapters never touch the database. Every call returns what
the channel acknowledged, read back from the channel itself, so the services record the channel's
truth rather than the request they sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from connectors.models import Connection


class ChannelRejected(Exception):
    """The channel refused the request (validation error, unsupported feature, unknown SKU).
    Not retryable as it stands: a person must change the promotion or the channel's data."""

    def __init__(self, message: str, *, detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = dict(detail or {})


class ChannelUnsupported(ChannelRejected):
    """The promotion uses a feature this channel's adapter cannot express (checked at validate)."""


@dataclass(frozen=True)
class PromotionSpec:
    """One version of a promotion as a channel needs it. Amounts are Decimal in the tenant currency."""

    key: str  # stable per promotion across versions, e.g. "promo-42"; adapters tag the channel object with it
    version: int  # the PromotionVersion number; adapters store it on the channel object so read-back shows it
    title: str
    kind: str  # percent_off | amount_off | fixed_price | buy_x_get_y | free_shipping | bundle
    value: Decimal  # percent (0 to 100) for percent_off, money otherwise; 0 for free_shipping
    currency: str
    starts_at: dt.datetime  # aware
    ends_at: dt.datetime | None
    skus: Sequence[str] = ()
    categories: Sequence[str] = ()
    collections: Sequence[str] = ()
    coupon_codes: Sequence[str] = ()
    min_spend: Decimal | None = None
    buy_quantity: int | None = None  # buy_x_get_y / bundle
    get_quantity: int | None = None
    location_ids: Sequence[str] = ()  # POS locations in scope (Square); empty = all
    usage_limit: int | None = None
    exclusive: bool = False


@dataclass(frozen=True)
class PriceSpec:
    """A price list version: the price each SKU should show from `starts_at`."""

    key: str
    version: int
    currency: str
    starts_at: dt.datetime
    prices: Mapping[str, Decimal]  # sku -> price


@dataclass(frozen=True)
class ChannelAck:
    """What the channel holds after a call, read back from it."""

    external_id: str  # the channel's id for the object (price rule id, coupon id, catalog object id)
    version: int | None  # the version the channel reports holding (from the tag the adapter wrote)
    state: str  # "active" | "paused" | "absent"
    raw: Mapping[str, Any] = field(default_factory=dict)


class ChannelAdapter:
    vendor: ClassVar[str]
    # Promotion kinds this channel can express, and optional features ("pause", "prices", "inventory").
    kinds: ClassVar[frozenset[str]] = frozenset()
    features: ClassVar[frozenset[str]] = frozenset()

    def unsupported(self, spec: PromotionSpec) -> list[str]:
        """Reasons this channel cannot carry `spec` (empty when it can). Used by validation."""
        reasons = []
        if spec.kind not in self.kinds:
            reasons.append(f"{self.vendor} cannot express a {spec.kind.replace('_', ' ')} promotion")
        return reasons

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        """Create (external_id None) or update the channel object so it carries `spec`; return the read-back."""
        raise ChannelUnsupported(f"{self.vendor} does not take promotions")

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot pause a promotion")

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot resume a promotion")

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        """Take the promotion off the channel entirely (rollback of a first deployment)."""
        raise ChannelUnsupported(f"{self.vendor} cannot remove a promotion")

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        raise ChannelUnsupported(f"{self.vendor} cannot read promotions back")

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        """Set each SKU's price; return the prices the channel shows afterwards (sku -> price)."""
        raise ChannelUnsupported(f"{self.vendor} does not take price lists")

    def push_available(
        self, connection: Connection, levels: Mapping[tuple[str, str], Decimal]
    ) -> Mapping[tuple[str, str], Decimal]:
        """Set available-to-sell per (sku, channel location id); return what the channel now shows."""
        raise ChannelUnsupported(f"{self.vendor} does not take inventory")
