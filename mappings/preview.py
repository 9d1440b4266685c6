"""The journal preview of a mapping set: what an order would post under it, written nowhere.

Orders (commerce) and the journal builders (posting) sit in layers above mappings, so they are not
imported here: posting registers the two callables at start-up (posting/apps.py) and the mapping
pages and API call them through this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured

_providers: dict[str, Callable[..., Any]] = {}


def preview_provider_register(*, orders: Callable[[], Any], preview: Callable[..., Any]) -> None:
    """`orders()` → the orders one may preview, newest first (a QuerySet);
    `preview(order=, mapping_set=)` → posting's JournalPreview."""
    _providers.update(orders=orders, preview=preview)


def _provider(name: str) -> Callable[..., Any]:
    try:
        return _providers[name]
    except KeyError:
        raise ImproperlyConfigured("No journal preview registered: is `posting` in INSTALLED_APPS?") from None


def preview_orders() -> Any:
    """The orders one may preview, newest first (a QuerySet)."""
    return _provider("orders")()


def preview_order_get(pk: int) -> Any | None:
    """The order with id `pk` to preview, or None."""
    return preview_orders().filter(pk=pk).first()


def journal_preview_for_set(*, order: Any, mapping_set: Any) -> Any:
    """The journal `order` would post under `mapping_set` (currency, lines, problems)."""
    return _provider("preview")(order=order, mapping_set=mapping_set)
