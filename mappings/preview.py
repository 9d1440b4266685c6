"""The journal preview on a mapping set's page and API: the journal an order would post under the
set. Building a journal is posting's work (and the orders are commerce's), both above mappings in
the layers, so posting registers how to do it (posting/apps.py) instead of mappings importing it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from mappings.models import MappingSet


@dataclass(frozen=True)
class PreviewSource:
    orders: Callable[[], QuerySet]  # the orders one may preview, most recent first
    journal_preview: Callable[..., Any]  # (order=, mapping_set=) → the journal it would post


_source: list[PreviewSource] = []


def preview_source_register(source: PreviewSource) -> None:
    _source[:] = [source]


def preview_orders(*, limit: int = 50) -> list[Any]:
    return list(_source[0].orders()[:limit]) if _source else []


def preview_order_get(*, order_id: int) -> Any | None:
    return _source[0].orders().filter(pk=order_id).first() if _source else None


def preview_build(*, order: Any, mapping_set: MappingSet) -> Any:
    """The journal `order` would post under `mapping_set` (writes nothing)."""
    if not _source:
        raise LookupError("No journal preview is registered (posting is not installed).")
    return _source[0].journal_preview(order=order, mapping_set=mapping_set)
