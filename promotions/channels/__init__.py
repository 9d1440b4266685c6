"""Channel adapters: push promotions, prices and available-to-sell to a sales channel and read back
what the channel really holds. `adapter_for(vendor)` is the only way in."""

from __future__ import annotations

import importlib

from promotions.channels.base import ChannelAdapter

# vendor -> "module:ClassName"; imported on first use so the promotions app loads without them.
_ADAPTERS = {
    "shopify": "promotions.channels.shopify:ShopifyChannel",
    "woocommerce": "promotions.channels.woocommerce:WooCommerceChannel",
    "square": "promotions.channels.square:SquareChannel",
}
_LOADED: dict[str, ChannelAdapter] = {}


def channel_vendors() -> tuple[str, ...]:
    """The connection vendors that are sales channels for promotions, prices and inventory."""
    return tuple(_ADAPTERS)


def adapter_for(vendor: str) -> ChannelAdapter:
    """The channel adapter for a connection's vendor; LookupError for vendors that are not channels
    (payments, CSV drops, ERPs)."""
    if vendor not in _ADAPTERS:
        raise LookupError(f"{vendor!r} is not a sales channel the portal can publish to.")
    if vendor not in _LOADED:
        module_name, _, class_name = _ADAPTERS[vendor].partition(":")
        _LOADED[vendor] = getattr(importlib.import_module(module_name), class_name)()
    return _LOADED[vendor]
