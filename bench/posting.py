"""Posting benchmark: how close does posting through the service get to raw COPY speed?

Creates a scratch database with one tenant on the standard chart, upserts one vendor-shaped order
(three lines, a coupon, two tax jurisdictions, shipping, card + gift card) through the commerce
service and copies it N-1 times in SQL (untimed preparation), posts each order through
`journal_post_order` (build, resolve accounts, write, balance trigger), then writes the very same
journal rows again with raw multi-row INSERT statements (1,000 rows each) into the same tables (same
constraints and the same deferred balance trigger) and prints orders/s, journal rows/s of both and
their ratio.
Usage: .venv/bin/python bench/posting.py [--orders N] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.provisioning import drop_database, recreate_database, scratch_database_url


def _insert_rows(cursor, table: str, placeholder: str, rows: list[tuple], label: str, chunk: int = 1000) -> None:
    from tqdm import tqdm

    with tqdm(total=len(rows), desc=label, unit="row") as progress:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            values = ", ".join([placeholder] * len(part))
            cursor.execute(f"INSERT INTO {table} VALUES {values}", [value for row in part for value in row])
            progress.update(len(part))


def _clone_orders(cursor, template_id: int, count: int) -> None:
    """`count` copies of one upserted order (lines, shipping, discounts, taxes, payments) by
    INSERT ... SELECT: the benchmark measures posting, and upserting 50,000 orders one by one
    through the commerce service would take longer than the posting itself."""
    from commerce.models import DiscountAllocation, Order, OrderLine, Payment, ShippingLine, TaxLine

    def columns(model, *skip: str) -> list[str]:
        return [field.column for field in model._meta.concrete_fields if field.column not in ("id", *skip)]

    order_columns = columns(Order, "external_id")
    cursor.execute(
        f"INSERT INTO {Order._meta.db_table} ({', '.join(order_columns)}, external_id) "
        f"SELECT {', '.join('o.' + c for c in order_columns)}, 'B' || lpad(g::text, 7, '0') "
        f"FROM {Order._meta.db_table} o CROSS JOIN generate_series(1, %s) g WHERE o.id = %s",
        [count, template_id],
    )
    cursor.execute(
        f"CREATE TEMP TABLE bench_clone ON COMMIT DROP AS SELECT id AS new_id FROM {Order._meta.db_table} "
        "WHERE source = 'bench' AND id <> %s",
        [template_id],
    )
    for model in (OrderLine, ShippingLine, Payment):
        cols = columns(model, "order_id")
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} (order_id, {', '.join(cols)}) "
            f"SELECT m.new_id, {', '.join('c.' + c for c in cols)} FROM {model._meta.db_table} c "
            "CROSS JOIN bench_clone m WHERE c.order_id = %s",
            [template_id],
        )
    line_table, ship_table = OrderLine._meta.db_table, ShippingLine._meta.db_table
    for model in (DiscountAllocation, TaxLine):
        cols = columns(model, "order_id", "order_line_id", "shipping_line_id")
        has_shipping = any(field.column == "shipping_line_id" for field in model._meta.concrete_fields)
        cursor.execute(
            f"INSERT INTO {model._meta.db_table} (order_id, order_line_id"
            f"{', shipping_line_id' if has_shipping else ''}, {', '.join(cols)}) "
            f"SELECT m.new_id, nl.id{', ns.id' if has_shipping else ''}, {', '.join('c.' + c for c in cols)} "
            f"FROM {model._meta.db_table} c CROSS JOIN bench_clone m "
            f"LEFT JOIN {line_table} ol ON ol.id = c.order_line_id "
            f"LEFT JOIN {line_table} nl ON nl.order_id = m.new_id AND nl.position = ol.position "
            + (
                f"LEFT JOIN {ship_table} os ON os.id = c.shipping_line_id "
                f"LEFT JOIN {ship_table} ns ON ns.order_id = m.new_id AND ns.position = os.position "
                if has_shipping
                else ""
            )
            + "WHERE c.order_id = %s",
            [template_id],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    # Named after the caller's database, so two checkouts benchmarking at once do not collide.
    own = urlparse(os.environ.get("DATABASE_URL", "")).path.strip("/") or "tillbridge"
    url = scratch_database_url(f"{own}_bench_posting")
    recreate_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from commerce.models import Order
    from commerce.services import order_upsert
    from mappings.services import standard_chart_apply
    from posting.models import JournalEntry, JournalLine
    from posting.services import PostingStatus, journal_post_order
    from tenants import services
    from tenants.provisioning import template_ensure
    from tests.commerce.factories import shopify_order

    try:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        services.public_tenant_ensure(domain="localhost")
        template_ensure()
        partner = services.partner_create(slug="benchpartner", name="Bench Partner", domain="bench.localhost")
        tenant = services.tenant_create(partner=partner, slug="benchshop", name="Bench Shop").tenant
        with tenant_context(tenant):
            standard_chart_apply()
            base = shopify_order()
            started = time.perf_counter()
            template = order_upsert(source="bench", connection_id=1, document=replace(base, external_id="B0000000")).obj
            with transaction.atomic(), connection.cursor() as cursor:
                _clone_orders(cursor, template.pk, args.orders - 1)
            orders = list(Order.objects.filter(source="bench").order_by("pk"))
            prepare_seconds = time.perf_counter() - started
            assert len(orders) == args.orders

            started = time.perf_counter()
            for order in tqdm(orders, desc="posting orders", unit="order"):
                outcome = journal_post_order(order=order)
                assert outcome.status == PostingStatus.POSTED, outcome.problems
            post_seconds = time.perf_counter() - started
            line_rows = JournalLine.objects.count()
            entry_rows = JournalEntry.objects.count()

            entries = list(JournalEntry.objects.values_list("id", "source_key", "date", "currency", "memo"))
            lines = list(
                JournalLine.objects.values_list(
                    "entry_id",
                    "position",
                    "account_id",
                    "role",
                    "debit",
                    "credit",
                    "dimensions",
                    "description",
                    "sources",
                )
            )
            offset = max(entry[0] for entry in entries) + 1
            entry_rows_raw = [
                (entry_id + offset, f"raw:{key}", date, currency, memo, "ready", "")
                for entry_id, key, date, currency, memo in entries
            ]
            line_rows_raw = [
                (
                    entry_id + offset,
                    position,
                    account,
                    role,
                    debit,
                    credit,
                    json.dumps(dims),
                    description,
                    json.dumps(sources),
                )
                for entry_id, position, account, role, debit, credit, dims, description, sources in lines
            ]
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                _insert_rows(
                    cursor,
                    "posting_journalentry (id, source_key, date, currency, memo, status, external_ref, created_at)",
                    "(%s, %s, %s, %s, %s, %s, %s, now())",
                    entry_rows_raw,
                    "raw INSERT entries",
                )
                _insert_rows(
                    cursor,
                    "posting_journalline (entry_id, position, account_id, role, debit, credit, dimensions, "
                    "description, sources)",
                    "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb)",
                    line_rows_raw,
                    "raw INSERT lines",
                )
            raw_seconds = time.perf_counter() - started  # includes the commit, i.e. the balance trigger
        connection.set_schema_to_public()

        post_rows = line_rows / post_seconds
        raw_rows = line_rows / raw_seconds
        print(f"orders:                      {args.orders} ({entry_rows} entries, {line_rows} journal lines)")
        print(f"prepare orders (SQL copies): {prepare_seconds:.1f} s (not part of the figures below)")
        print(f"post through the service:    {args.orders / post_seconds:,.0f} orders/s, {post_rows:,.0f} rows/s")
        print(f"raw INSERT of the same rows: {raw_rows:,.0f} rows/s ({raw_seconds:.2f} s incl. commit)")
        print(f"ratio raw INSERT / service:  {raw_rows / post_rows:.1f}x")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
