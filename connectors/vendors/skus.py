"""The channel side of the SKU map (commerce.skus): reading a channel's whole catalog into it, and
the exception for a channel item the catalog gives no SKU."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from commerce.models import ChannelSku
from commerce.skus import channel_skus_store
from connectors.models import Connection
from connectors.vendors import adapter_for_vendor
from triage.models import Kind
from triage.retry import RetryAction
from triage.services import exception_raise, exception_resolve_for_object

SKU_MAP_RETRY = "connectors.sku_map_refresh"


def sku_unmapped_raise(*, connection: Connection, item_ids: list[str]) -> None:
    """One occurrence per channel item without a SKU (grouped as inventory / unmapped_sku); the
    Retry reads the channel's catalog again."""
    rows = ChannelSku.objects.filter(source_connection_id=connection.pk, channel_item_id__in=item_ids, sku="")
    for row in rows:
        exception_raise(
            kind=Kind.INVENTORY,
            cause="unmapped_sku",
            obj=row,
            title=f"{connection.name}: item {row.channel_item_id} has no SKU",
            detail=(
                f"{connection.get_vendor_display()} names item {row.channel_item_id}"
                f"{f' ({row.name})' if row.name else ''} without a SKU, so its stock and order lines cannot "
                "meet the same product on the other channels. Give it a SKU in the channel's catalog, then retry."
            ),
            context={"connection_id": connection.pk, "channel_item_id": row.channel_item_id},
            retry=RetryAction(SKU_MAP_RETRY, {"connection_id": connection.pk}),
            tags=("connectors", "unmapped_sku"),
            object_label=f"{connection.name} item {row.channel_item_id}",
        )


def sku_map_refresh(*, connection: Connection) -> dict[str, int]:
    """Read the channel's whole catalog into the SKU map; resolve the exceptions of items that have a
    SKU now. Returns counts: items read, items without a SKU."""
    adapter = adapter_for_vendor(connection.vendor)
    reader = getattr(adapter, "catalog_skus", None)
    if reader is None:
        raise ValidationError(
            {"connection": f"{connection.get_vendor_display()} connections have no catalog to read SKUs from."},
            code="unsupported",
        )
    items = reader(connection)
    channel_skus_store(source=connection.vendor, source_connection_id=connection.pk, items=items)
    mapped = ChannelSku.objects.filter(source_connection_id=connection.pk).exclude(sku="")
    for row in mapped.filter(channel_item_id__in=list(items)):
        exception_resolve_for_object(obj=row, reason=f"The catalog names its SKU now: {row.sku}.")
    return {"items": len(items), "without_sku": sum(1 for sku, _name in items.values() if not sku)}
