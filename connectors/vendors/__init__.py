"""Source adapters, one module per vendor, looked up by the connection's vendor."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from connectors.vendors.base import Adapter

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
    import importlib

    for name in _MODULES:
        importlib.import_module(f"connectors.vendors.{name}")
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
