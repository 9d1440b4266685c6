"""Inventory benchmark: level upserts per second, and the latency of one debounced ATS push.

Creates a scratch database with one tenant, three stock locations and two sales channels (one
selling from two locations, one from all three) answered by an in-process channel that echoes
what it is sent (so the figures are Tillbridge's own cost, not a vendor's network). Then:
1. N level updates through `inventory_level_upsert`, one transaction each as the inbox runs them
   (half first reports, half newer versions of the same levels), plus N replays (same version) and
   N stale updates (older version), which must change nothing;
2. counts the push tasks the debounce queued for all of that (expected: one);
3. drains the queue with `inventory_push_due` (ATS recompute for every changed key, one
   `push_available` call per channel, acknowledgements recorded) and times it;
4. times a full `available_to_sell()` over every level.
Usage: .venv/bin/python bench/inventory.py [--updates N] [--keep]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_run, bench_tenant, timed_each


def main() -> None:
    bench_run(__doc__, "inventory", _run, updates=10_000)


def _run(updates: int) -> None:
    from decimal import Decimal

    from django.core.cache import cache
    from django.db import connection
    from django_tenants.utils import tenant_context

    from commerce import inventory_sync, tasks
    from commerce.documents import CanonicalInventoryLevel
    from commerce.inventory import channel_location_set, inventory_level_upsert, inventory_location_ensure
    from commerce.models import ChannelStock, InventoryLevel, StockChange
    from commerce.selectors import available_to_sell
    from commerce.upserts import UpsertOutcome
    from connectors.models import Connection
    from connectors.vendors import channels as vendor_channels
    from connectors.vendors.base import ChannelAdapter

    class EchoChannel(ChannelAdapter):
        features = frozenset({"inventory"})

        def __init__(self, vendor: str) -> None:
            self.vendor = vendor
            self.calls: list[int] = []

        def push_available(self, connection, levels):
            self.calls.append(len(levels))
            return dict(levels)

    echoes = {vendor: EchoChannel(vendor) for vendor in ("shopify", "square")}
    vendor_channels._OVERRIDES.update(echoes)
    dispatched: list[dict] = []
    tasks.inventory_push.apply_async = lambda **kwargs: dispatched.append(kwargs)

    tenant = bench_tenant()
    with tenant_context(tenant):
        cache.delete(inventory_sync.PUSH_GATE_KEY)
        source = Connection.objects.create(vendor="csv", name="Stock files", config={})
        locations = [
            inventory_location_ensure(source="csv", connection_id=source.pk, external_id=code, name=code)
            for code in ("WH", "STORE-1", "STORE-2")
        ]
        web = Connection.objects.create(vendor="shopify", name="Web", config={})
        pos = Connection.objects.create(vendor="square", name="Stores", config={})
        for location in locations[:2]:
            channel_location_set(channel_connection=web, location=location, channel_location_id=location.external_id)
        for location in locations:
            channel_location_set(channel_connection=pos, location=location, channel_location_id=location.external_id)

        half = updates // 2
        keys = [(locations[i % 3].external_id, f"SKU-{i:06d}") for i in range(half)]

        def run(label: str, version: int, expected: UpsertOutcome, quantity: int) -> float:
            def upsert(key: tuple[str, str]) -> None:
                document = CanonicalInventoryLevel(*key, Decimal(quantity), version)
                outcome = inventory_level_upsert(source="csv", connection_id=source.pk, document=document).outcome
                assert outcome == expected, outcome

            return timed_each(keys, upsert, desc=label, unit="update")

        first = run("first reports", 100, UpsertOutcome.CREATED, 10)
        newer = run("newer versions", 200, UpsertOutcome.UPDATED, 7)
        replay = run("replays", 200, UpsertOutcome.UNCHANGED, 7)
        stale = run("stale updates", 150, UpsertOutcome.IGNORED_STALE, 99)
        queued = StockChange.objects.count()

        started = time.perf_counter()
        report = inventory_sync.inventory_push_due()
        push_seconds = time.perf_counter() - started
        assert report.failed == 0 and report.mismatched == 0
        acknowledged = ChannelStock.objects.filter(status=ChannelStock.Status.ACKNOWLEDGED).count()

        started = time.perf_counter()
        rows = available_to_sell().rows
        selector_seconds = time.perf_counter() - started
        assert len(rows) == InventoryLevel.objects.count() == half
    connection.set_schema_to_public()

    changes = 2 * half
    print(f"level updates:               {changes} ({half} first reports + {half} newer versions)")
    print(f"upsert rate:                 {changes / (first + newer):,.0f} updates/s")
    print(f"  first reports / newer:     {half / first:,.0f} / {half / newer:,.0f} updates/s")
    print(f"replays / stale (no change): {half / replay:,.0f} / {half / stale:,.0f} updates/s")
    gate = inventory_sync._debounce_seconds() + 5
    elapsed = first + newer + replay + stale
    print(
        f"push tasks queued (debounce): {len(dispatched)} for {changes} changes over {elapsed:.0f} s "
        f"(at most one per {gate} s gate); {queued} keys waiting"
    )
    print(
        f"push batch:                  {push_seconds:.2f} s for {report.changes} keys -> "
        f"{report.channels} channel calls ({', '.join(f'{v}: {e.calls}' for v, e in echoes.items())} keys), "
        f"{acknowledged} acknowledgements recorded"
    )
    print(f"available_to_sell() (all):   {selector_seconds * 1000:.0f} ms for {len(rows)} rows")


if __name__ == "__main__":
    main()
