"""The one way from promotions to a channel adapter, and the spec a version becomes.

`channel_adapter(vendor)` asks `connectors.vendors.channel_adapter_for` at call time; tests (and only tests)
put a double in `_OVERRIDES` so services run against a recording channel."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelAck, ChannelAdapter, PriceSpec, PromotionSpec
from promotions.models import PromotionVersion, Stacking

if TYPE_CHECKING:
    from connectors.models import Connection

_OVERRIDES: dict[str, ChannelAdapter] = {}


class SimulatedChannel(ChannelAdapter):
    """The demo's simulated connections (config `"simulated": true`, never polled either): a channel
    that accepts every call. Nothing leaves the portal; the board names the channel as simulated."""

    vendor = "simulated"

    def publish(self, connection: Connection, spec: PromotionSpec, *, external_id: str | None) -> ChannelAck:
        return ChannelAck(external_id or f"sim-{connection.pk}-{spec.key}", spec.version, "active", {"simulated": True})

    def pause(self, connection: Connection, external_id: str) -> ChannelAck:
        return ChannelAck(external_id, None, "paused", {"simulated": True})

    def resume(self, connection: Connection, external_id: str) -> ChannelAck:
        return ChannelAck(external_id, None, "active", {"simulated": True})

    def remove(self, connection: Connection, external_id: str) -> ChannelAck:
        return ChannelAck(external_id, None, "absent", {"simulated": True})

    def read_back(self, connection: Connection, external_id: str) -> ChannelAck:
        return ChannelAck(external_id, None, "active", {"simulated": True})

    def publish_prices(self, connection: Connection, spec: PriceSpec) -> Mapping[str, Decimal]:
        return dict(spec.prices)


def channel_adapter(vendor: str) -> ChannelAdapter:
    """The adapter for a vendor; LookupError when no adapter takes promotions for it."""
    if vendor in _OVERRIDES:
        return _OVERRIDES[vendor]
    return channel_adapter_for(vendor)


def connection_adapter(connection: Connection) -> ChannelAdapter:
    """The adapter that talks to this connection: the simulated channel for simulated connections."""
    if connection.config.get("simulated"):
        return SimulatedChannel()
    return channel_adapter(connection.vendor)


def promotion_spec(version: PromotionVersion) -> PromotionSpec:
    eligibility = version.eligibility or {}
    min_spend = eligibility.get("min_spend")
    return PromotionSpec(
        key=version.promotion.key,
        version=version.number,
        title=version.promotion.name,
        kind=version.kind,
        value=Decimal(version.value),
        currency=version.currency,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        skus=tuple(eligibility.get("skus") or ()),
        categories=tuple(eligibility.get("categories") or ()),
        collections=tuple(eligibility.get("collections") or ()),
        coupon_codes=tuple(eligibility.get("coupon_codes") or ()),
        min_spend=Decimal(str(min_spend)) if min_spend not in (None, "") else None,
        buy_quantity=version.buy_quantity,
        get_quantity=version.get_quantity,
        location_ids=tuple(str(location) for location in eligibility.get("locations") or ()),
        usage_limit=version.usage_limit,
        exclusive=version.stacking == Stacking.EXCLUSIVE,
    )
