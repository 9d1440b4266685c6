"""ERP push benchmark: the pipeline's own cost per journal, with the ERP's network time removed.

Creates a scratch database with one tenant on the standard chart, posts N orders, then pushes
every journal (a) to the built-in ledger and (b) to a QuickBooks Online connection whose API is
answered in process by respx (lookup → create, shaped like Intuit's reference), and finally
re-pushes all of (b) as after a lost answer (lookup finds each entry, nothing is created).
Prints pushes/s for each; the ERP's real latency and rate limit come on top.
Usage: .venv/bin/python bench/erp_push.py [--orders N] [--keep]
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_run, bench_tenant, timed_each


def main() -> None:
    bench_run(__doc__, "erp", _run, orders=2_000)


def _repush_found(entry) -> None:
    from posting.erp.services import erp_push_entry  # import here: Django is set up by scratch_django

    assert not erp_push_entry(entry=entry).push.error_kind


def _run(orders: int) -> None:
    import httpx
    import respx
    from django.db import connection
    from django_tenants.utils import tenant_context
    from tqdm import tqdm

    from commerce.services import order_upsert
    from connectors.services import connection_create
    from core.http import client as connectors_http
    from core.http import netsafety
    from mappings.models import Account
    from mappings.services import standard_chart_apply
    from posting.erp.models import ErpPush
    from posting.erp.services import erp_push_entry, erp_target_set
    from posting.models import JournalEntry
    from posting.services import journal_post_order
    from tests.commerce.factories import shopify_order

    connectors_http.RateLimiter.acquire = lambda self, max_wait=30.0: 0.0  # measure us, not Intuit's budget
    # respx answers in process and this machine may have no DNS: Intuit's host is one public address.
    netsafety.resolve_host = lambda host: ["93.184.216.34"]
    base = "https://sandbox-quickbooks.api.intuit.com/v3/company/1"
    created: set[str] = set()

    def lookup(request: httpx.Request) -> httpx.Response:
        number = request.url.params["query"].split("'")[1]
        rows = [{"Id": number[3:], "DocNumber": number}] if number in created else []
        return httpx.Response(200, json={"QueryResponse": {"JournalEntry": rows} if rows else {}})

    def create(request: httpx.Request) -> httpx.Response:
        number = json.loads(request.content)["DocNumber"]
        created.add(number)
        return httpx.Response(200, json={"JournalEntry": {"Id": number[3:], "DocNumber": number, "SyncToken": "0"}})

    tenant = bench_tenant()
    with tenant_context(tenant):
        standard_chart_apply()
        for number, account in enumerate(Account.objects.all(), start=1):
            Account.objects.filter(pk=account.pk).update(external_id=str(number))
        document = shopify_order()
        for index in tqdm(range(orders), desc="posting orders", unit="order"):
            order = order_upsert(source="bench", connection_id=1, document=replace(document, external_id=f"B{index}"))
            journal_post_order(order=order.obj)
        entries = list(JournalEntry.objects.order_by("pk"))

        def push(entry: JournalEntry) -> None:
            erp_push_entry(entry=entry)

        ledger_seconds = timed_each(entries, push, desc="built-in ledger", unit="push")

        qbo = connection_create(
            vendor="quickbooks",
            direction="erp",
            name="Bench QBO",
            config={"realm_id": "1", "environment": "sandbox", "client_id": "c"},
            credentials={"access_token": "a", "refresh_token": "r", "client_secret": "s"},
        )
        erp_target_set(connection=qbo, since=dt.date(2000, 1, 1))
        with respx.mock:
            respx.get(f"{base}/query").mock(side_effect=lookup)
            respx.post(f"{base}/journalentry").mock(side_effect=create)
            qbo_seconds = timed_each(entries, push, desc="QuickBooks (in-process API)", unit="push")
            ErpPush.objects.filter(vendor="quickbooks").update(status=ErpPush.Status.FAILED, error_kind="timeout")
            repush_seconds = timed_each(entries, _repush_found, desc="re-push after lost answers", unit="push")
        acked = ErpPush.objects.filter(vendor="quickbooks", status=ErpPush.Status.ACKED).count()
    connection.set_schema_to_public()
    print(
        f"journals:                         {len(entries)} ({acked} acknowledged by QuickBooks, "
        f"{len(created)} created there)"
    )
    print(f"push to the built-in ledger:      {len(entries) / ledger_seconds:,.0f} pushes/s")
    print(f"push to QuickBooks (no network):  {len(entries) / qbo_seconds:,.0f} pushes/s")
    print(f"re-push finding existing entries: {len(entries) / repush_seconds:,.0f} pushes/s")


if __name__ == "__main__":
    main()
