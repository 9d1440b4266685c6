"""Vendor packages, one per vendor (`connectors/vendors/<vendor>/`), looked up by the connection's
vendor: `adapter_for_vendor` gives the source adapter (webhooks, polling, normalise),
`channel_adapter_for` the sales-channel adapter (promotions, prices, available-to-sell)."""

from __future__ import annotations

import importlib

from django.core.exceptions import ValidationError

from connectors.vendors.base import Adapter, ChannelAdapter

_ADAPTERS: dict[str, Adapter] = {}


def adapter_register(adapter: Adapter) -> Adapter:
    _ADAPTERS[adapter.vendor] = adapter
    return adapter


_MODULES = ("shopify", "stripe", "square", "woocommerce", "csvdrop", "shipstation")
_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for name in _MODULES:
        importlib.import_module(f"connectors.vendors.{name}.adapter")
    _loaded = True


def adapter_for_vendor(vendor: str) -> Adapter:
    _load()
    try:
        return _ADAPTERS[vendor]
    except KeyError:
        raise ValidationError({"vendor": [f"{vendor!r} has no source adapter."]}) from None


def adapters() -> dict[str, Adapter]:
    _load()
    return dict(_ADAPTERS)


# vendor -> "module:ClassName"; imported on first use so the apps load without them.
_CHANNELS = {
    "shopify": "connectors.vendors.shopify.channel:ShopifyChannel",
    "woocommerce": "connectors.vendors.woocommerce.channel:WooCommerceChannel",
    "square": "connectors.vendors.square.channel:SquareChannel",
}
_CHANNELS_LOADED: dict[str, ChannelAdapter] = {}


def channel_vendors() -> tuple[str, ...]:
    """The connection vendors that are sales channels for promotions, prices and inventory."""
    return tuple(_CHANNELS)


def channel_adapter_for(vendor: str) -> ChannelAdapter:
    """The channel adapter for a connection's vendor; LookupError for vendors that are not channels
    (payments, CSV drops, ERPs)."""
    if vendor not in _CHANNELS:
        raise LookupError(f"{vendor!r} is not a sales channel the portal can publish to.")
    if vendor not in _CHANNELS_LOADED:
        module_name, _, class_name = _CHANNELS[vendor].partition(":")
        _CHANNELS_LOADED[vendor] = getattr(importlib.import_module(module_name), class_name)()
    return _CHANNELS_LOADED[vendor]
