"""`stock.low`: a SKU's available-to-sell at a location a channel sells from fell to its safety stock
or below (ATS = on hand - reserved - safety <= 0). The inventory push drains every (location, sku)
whose ATS may have moved (commerce/inventory_sync.py) and checks them here, so every write that
moves stock passes this one place. `InventoryLevel.low_since` remembers a fall, so each is announced
once; it is cleared when the figure rises above again."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from commerce.models import InventoryLevel
from commerce.selectors import AtsRow, available_to_sell
from tenants.webhooks import tenant_event_emit


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"  # as commerce.inventory.quantity_text (which imports the push, hence this)


def stock_low_emit(row: AtsRow) -> None:
    """Announce `stock.low` for one SKU at one location, after commit."""
    tenant_event_emit(
        event="stock.low",
        payload={
            "sku": row.sku,
            "location": {"id": row.location_id, "name": row.location_name},
            "on_hand": _quantity(row.on_hand),
            "reserved": _quantity(row.reserved),
            "safety": _quantity(row.safety),
            "ats": _quantity(row.ats),
        },
    )


@transaction.atomic
def stock_low_check(*, pairs: Iterable[tuple[int, str]]) -> list[AtsRow]:
    """Mark and announce each (location, sku) of `pairs` whose ATS fell to zero or below since it
    was last above; clear the mark of those above again. Returns the rows announced."""
    wanted = set(pairs)
    if not wanted:
        return []
    result = available_to_sell(skus={sku for _, sku in wanted}, location_ids={location_id for location_id, _ in wanted})
    rows = {(row.location_id, row.sku): row for row in result.rows if (row.location_id, row.sku) in wanted}
    levels = InventoryLevel.objects.filter(
        location_id__in={location_id for location_id, _ in rows}, sku__in={sku for _, sku in rows}
    ).values_list("pk", "location_id", "sku", "low_since")
    now = timezone.now()
    announced: list[AtsRow] = []
    for pk, location_id, sku, low_since in levels:
        row = rows.get((location_id, sku))
        if row is None:
            continue
        if row.ats <= 0 and low_since is None:
            # Conditional, so two drains racing over one fall announce it once.
            if InventoryLevel.objects.filter(pk=pk, low_since__isnull=True).update(low_since=now):
                stock_low_emit(row)
                announced.append(row)
        elif row.ats > 0 and low_since is not None:
            InventoryLevel.objects.filter(pk=pk).update(low_since=None)
    return announced
