"""One SKU identity per tenant (issue 20): what a channel calls an item (a Square item variation id,
a Shopify inventory item id) and the tenant's SKU for it. Filled from each channel's catalog when an
event names an id the map does not know, and all at once by `sku_map_refresh`; read by inbound stock
and order lines, so inventory, reservations, prices and promotions all meet on the real SKU."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from commerce.models import ChannelSku


def channel_skus(*, source_connection_id: int, item_ids: Iterable[str]) -> dict[str, str]:
    """{channel item id: SKU} for the ids the map knows (a known id without a SKU maps to "")."""
    wanted = {str(item_id) for item_id in item_ids if item_id}
    if not wanted:
        return {}
    rows = ChannelSku.objects.filter(source_connection_id=source_connection_id, channel_item_id__in=wanted)
    return dict(rows.values_list("channel_item_id", "sku"))


def channel_skus_store(*, source: str, source_connection_id: int, items: Mapping[str, tuple[str, str]]) -> int:
    """Upsert {channel item id: (SKU, name)} from the channel's catalog; one statement. Returns how many."""
    rows = [
        ChannelSku(
            source=source,
            source_connection_id=source_connection_id,
            channel_item_id=str(item_id)[:120],
            sku=sku[:120],
            name=name[:255],
        )
        for item_id, (sku, name) in items.items()
        if item_id
    ]
    ChannelSku.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["source_connection_id", "channel_item_id"],
        update_fields=["sku", "name", "source", "updated_at"],
    )
    return len(rows)


def channel_items_for_sku(*, source_connection_id: int, sku: str) -> list[str]:
    """The channel's ids for one SKU (several when the channel has duplicates)."""
    rows = ChannelSku.objects.filter(source_connection_id=source_connection_id, sku=sku)
    return list(rows.values_list("channel_item_id", flat=True))
