"""Posting benchmark: how close does posting through the service get to raw INSERT speed?

Creates a scratch database with one tenant on the standard chart, upserts one vendor-shaped order
(three lines, a coupon, two tax jurisdictions, shipping, card + gift card) through the commerce
service and copies it 2N-1 times in SQL (untimed preparation). N orders are posted one by one
through `journal_post_order` (build, resolve accounts, write, balance trigger), the other N through
`journals_post_orders` in batches of `--batch` (from their canonical documents, read in the
untimed preparation as the ingest holds them in memory). Then the very rows the batches wrote are
written again with raw multi-row INSERT statements (1,000 rows each) into the same tables (same
constraints and the same deferred balance trigger). Prints orders/s and journal rows/s of each,
the batch path as a share of raw INSERT, and whether the goal of issue 17 (>= 25%) is met.
Usage: .venv/bin/python bench/posting.py [--orders N] [--batch B] [--keep]
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

from bench.common import bench_parser, bench_tenant, branch_slug, own_database, scratch_django, timed_each


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


GOAL_SHARE = 0.25  # issue 17: posting at >= 25% of raw INSERT of the same rows


def _prepare(count: int) -> tuple[list, list]:
    """2 x `count` orders (SQL copies of one upserted order): the first half for the single path,
    the second half with their canonical documents for the batch path."""
    from django.db import connection, transaction

    from commerce.models import Order
    from commerce.selectors import order_document
    from commerce.services import order_upsert
    from tests.commerce.factories import shopify_order

    template = order_upsert(source="bench", connection_id=1, document=replace(shopify_order(), external_id="B0000000"))
    with transaction.atomic(), connection.cursor() as cursor:
        _clone_orders(cursor, template.obj.pk, 2 * count - 1)
    orders = list(
        Order.objects.filter(source="bench")
        .order_by("pk")
        .prefetch_related("lines", "tax_lines", "discounts", "shipping_lines", "payments", "fulfilments__lines")
    )
    assert len(orders) == 2 * count
    return orders[:count], [(order, order_document(order=order)) for order in orders[count:]]


def post_order(order) -> None:
    """Post one order through the service; it must post."""
    from posting.services import PostingStatus, journal_post_order  # import here: Django is set up in main

    outcome = journal_post_order(order=order)
    assert outcome.status == PostingStatus.POSTED, outcome.problems


def _post(single: list, batched: list, batch_size: int) -> tuple[float, float, list[int]]:
    from tqdm import tqdm

    from posting.services import PostingStatus, journals_post_orders

    single_seconds = timed_each(single, post_order, desc="posting one by one", unit="order")
    entry_ids = []
    started = time.perf_counter()
    with tqdm(total=len(batched), desc=f"posting in batches of {batch_size}", unit="order") as progress:
        for start in range(0, len(batched), batch_size):
            outcomes = journals_post_orders(batched[start : start + batch_size])
            assert all(outcome.status == PostingStatus.POSTED for outcome in outcomes), outcomes
            entry_ids.extend(outcome.entry.pk for outcome in outcomes)
            progress.update(len(outcomes))
    return single_seconds, time.perf_counter() - started, entry_ids


def _raw_insert(entry_ids: list[int]) -> tuple[float, int]:
    """Write the batch path's entries and lines again with raw multi-row INSERTs (new ids and
    keys): seconds including the commit (the deferred balance trigger), and the lines written."""
    from django.db import connection, transaction

    from posting.models import JournalEntry, JournalLine

    entries = list(
        JournalEntry.objects.filter(pk__in=entry_ids).values_list("id", "source_key", "date", "currency", "memo")
    )
    lines = list(
        JournalLine.objects.filter(entry_id__in=entry_ids).values_list(
            "entry_id", "position", "account_id", "role", "debit", "credit", "dimensions", "description", "sources"
        )
    )
    offset = JournalEntry.objects.order_by("-pk").values_list("pk", flat=True).first() + 1
    entry_rows = [(pk + offset, f"raw:{key}", date, cur, memo, "ready", "") for pk, key, date, cur, memo in entries]
    line_rows = [
        (pk + offset, position, account, role, debit, credit, json.dumps(dims), description, json.dumps(sources))
        for pk, position, account, role, debit, credit, dims, description, sources in lines
    ]
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        _insert_rows(
            cursor,
            "posting_journalentry (id, source_key, date, currency, memo, status, external_ref, created_at)",
            "(%s, %s, %s, %s, %s, %s, %s, now())",
            entry_rows,
            "raw INSERT entries",
        )
        _insert_rows(
            cursor,
            "posting_journalline (entry_id, position, account_id, role, debit, credit, dimensions, "
            "description, sources)",
            "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s::jsonb)",
            line_rows,
            "raw INSERT lines",
        )
    return time.perf_counter() - started, len(line_rows)


def _report(args: argparse.Namespace, *, single: float, batched: float, raw: float, lines: int) -> None:
    orders, batch_size = args.orders, args.batch
    raw_rate, batch_rate, single_rate = orders / raw, orders / batched, orders / single
    share = batch_rate / raw_rate
    print(f"orders per path:             {orders} ({lines} journal lines, {lines / orders:.0f} per order)")
    print(f"post one by one (service):   {single_rate:,.0f} orders/s, {lines / single:,.0f} rows/s")
    print(f"post in batches of {batch_size:<4}:     {batch_rate:,.0f} orders/s, {lines / batched:,.0f} rows/s")
    print(f"raw INSERT of the same rows: {raw_rate:,.0f} orders/s, {lines / raw:,.0f} rows/s ({raw:.2f} s)")
    print(f"one by one / raw INSERT:     {single_rate / raw_rate:.1%} ({raw_rate / single_rate:.1f}x slower)")
    print(f"batches / raw INSERT:        {share:.1%} ({raw_rate / batch_rate:.1f}x slower)")
    print(f"batches / one by one:        {batch_rate / single_rate:.1f}x faster")
    print(f"goal (batches >= {GOAL_SHARE:.0%} of raw INSERT): {'met' if share >= GOAL_SHARE else 'NOT met'}")


def _redis_clear() -> None:
    """Drop the pushes the bench queued (its broker database and the fair queues' state)."""
    import redis
    from django.conf import settings

    from core.fairness import fair_clear

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    fair_clear()


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--orders", type=int, default=1_500, help="orders per path (single and batched)")
    parser.add_argument("--batch", type=int, default=100, help="orders per journals_post_orders call")
    args = parser.parse_args()

    # The ERP pushes sent on commit go to the caller's own Redis database (REDIS_URL: broker N,
    # cache N+1 as in the test settings), never to the test databases, and are dropped at the end.
    redis_db = urlparse(os.environ.get("REDIS_URL", "")).path.strip("/")
    if redis_db.isdigit():
        os.environ["TEST_REDIS_DB"] = redis_db
    # Named after the caller's database and branch, so two checkouts benchmarking at once do not collide.
    with scratch_django(f"{own_database()}_{branch_slug()}_bench_posting", keep=args.keep):
        _redis_clear()
        try:
            _run(args)
        finally:
            _redis_clear()


def _run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from mappings.services import standard_chart_apply

    with tenant_context(bench_tenant()):
        standard_chart_apply()
        started = time.perf_counter()
        single, batched = _prepare(args.orders)
        print(f"prepare {2 * args.orders} orders (SQL copies, documents): {time.perf_counter() - started:.1f} s")
        single_seconds, batch_seconds, entry_ids = _post(single, batched, args.batch)
        raw_seconds, lines = _raw_insert(entry_ids)
    connection.set_schema_to_public()
    _report(args, single=single_seconds, batched=batch_seconds, raw=raw_seconds, lines=lines)


if __name__ == "__main__":
    main()
