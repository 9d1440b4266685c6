"""Demo stock for `seed_demo`: three locations, levels for the demo catalogue, a safety stock, and
a few open orders holding reservations (one SKU oversold), through the real services. Idempotent:
levels carry a fixed version and orders a fixed id, so a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from commerce.documents import CanonicalInventoryLevel, CanonicalOrder, OrderLineDoc
from commerce.inventory import inventory_level_upsert, inventory_location_ensure, safety_stock_set
from commerce.models import InventoryLocation, Reservation
from commerce.services import order_upsert

SOURCE = "demo-stock"  # apart from the ledger demo's orders (portal/demo/posting.py)
LOCATIONS = [
    # external id, name, kind, default safety stock
    ("WH-EAST", "East warehouse", InventoryLocation.Kind.WAREHOUSE, Decimal(5)),
    ("STORE-SOHO", "Soho store", InventoryLocation.Kind.STORE, Decimal(1)),
    ("WEB", "Web fulfilment", InventoryLocation.Kind.WEB, Decimal(0)),
]
# On hand per SKU at each location (warehouse, store, web).
STOCK = {
    "TEE-BLK": (140, 18, 25),
    "HOOD-GRY": (60, 6, 12),
    "SOCK-3PK": (300, 40, 55),
    "BOOT-BRN": (12, 1, 3),
    "SNKR-WHT": (24, 4, 0),
    "CAP-NVY": (80, 9, 14),
}
OPEN_ORDERS = [
    # order id, store, lines (sku, quantity, unit price)
    ("DEMO-OPEN-1", "STORE-SOHO", [("BOOT-BRN", 2, Decimal("120.00")), ("TEE-BLK", 1, Decimal("24.00"))]),
    ("DEMO-OPEN-2", "WEB", [("SNKR-WHT", 1, Decimal("85.00")), ("SOCK-3PK", 3, Decimal("12.50"))]),
    ("DEMO-OPEN-3", "WEB", [("HOOD-GRY", 2, Decimal("55.00"))]),
]
COUNTED_AT = dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DemoStock:
    locations: int
    levels: int
    reservations: int


def inventory_demo_seed(*, currency: str) -> DemoStock:
    """Seed the demo stock in the current schema."""
    for external_id, name, kind, safety in LOCATIONS:
        location = inventory_location_ensure(
            source=SOURCE, connection_id=None, external_id=external_id, name=name, kind=kind
        )
        if location.safety_stock_default != safety:
            location.safety_stock_default = safety
            location.save(update_fields=["safety_stock_default"])
    version = int(COUNTED_AT.timestamp() * 1000)
    for sku, quantities in STOCK.items():
        for (external_id, _, _, _), on_hand in zip(LOCATIONS, quantities, strict=True):
            inventory_level_upsert(
                source=SOURCE,
                connection_id=None,
                document=CanonicalInventoryLevel(external_id, sku, Decimal(on_hand), version, updated_at=COUNTED_AT),
            )
    warehouse = InventoryLocation.objects.get(source=SOURCE, source_connection_id=None, external_id="WH-EAST")
    safety_stock_set(location=warehouse, sku="BOOT-BRN", quantity=Decimal(4))
    placed = dt.datetime.now(tz=dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    for order_id, store, lines in OPEN_ORDERS:
        order_upsert(
            source=SOURCE,
            connection_id=None,
            document=CanonicalOrder(
                external_id=order_id,
                source_version=1,
                currency=currency,
                channel="pos" if store == "STORE-SOHO" else "web",
                store=store,
                placed_at=placed,
                lines=tuple(
                    OrderLineDoc(f"{order_id}-L{number}", sku, quantity, price, title=sku)
                    for number, (sku, quantity, price) in enumerate(lines, start=1)
                ),
            ),
        )
    return DemoStock(
        locations=len(LOCATIONS),
        levels=len(STOCK) * len(LOCATIONS),
        reservations=Reservation.objects.filter(released_at__isnull=True).count(),
    )
