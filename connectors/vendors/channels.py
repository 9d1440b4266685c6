"""Available-to-sell writes for commerce's debounced push (commerce/inventory_sync.py). Commerce sits
below the vendor packages, so the connectors app registers `push_available` with it from its
ready(); a channel's refusal reaches commerce as a `ChannelPushError` naming the cause."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError

from commerce.inventory_sync import ChannelPushError
from connectors.models import Connection
from connectors.vendors import channel_adapter_for
from connectors.vendors.base import ChannelAdapter, ChannelRejected, ChannelUnsupported
from core.http.client import ConnectorError

# Test doubles by vendor (filled by a fixture); production resolves through `channel_adapter_for`.
_OVERRIDES: dict[str, ChannelAdapter] = {}


def channel_adapter(vendor: str) -> ChannelAdapter:
    """The channel adapter for a vendor: a registered test double, else `channel_adapter_for`."""
    if vendor in _OVERRIDES:
        return _OVERRIDES[vendor]
    try:
        return channel_adapter_for(vendor)
    except (LookupError, ValueError, ValidationError) as error:
        raise ChannelUnsupported(f"{vendor} has no channel adapter: {error}") from None


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or f"{type(error).__name__}: {error}"


def push_available(channel: Connection, levels: Mapping[tuple[str, str], Decimal]) -> Mapping[tuple[str, str], Decimal]:
    """Set available-to-sell on the channel; return what it shows. Refusals, unsupported channels
    and connector errors become ChannelPushError; anything else passes through as it is."""
    try:
        return channel_adapter(channel.vendor).push_available(channel, levels)
    except ChannelUnsupported as error:
        raise ChannelPushError(_message(error), cause="channel_unsupported") from error
    except ChannelRejected as error:
        raise ChannelPushError(_message(error), cause="channel_rejected") from error
    except ConnectorError as error:
        raise ChannelPushError(_message(error), cause=f"channel_{error.cause}") from error
