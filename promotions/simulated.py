"""The demo's simulated channel: every promotion call accepted, nothing leaves the portal."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.vendors.base import ChannelAck, ChannelAdapter, PriceSpec, PromotionSpec

if TYPE_CHECKING:
    from connectors.models import Connection


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
