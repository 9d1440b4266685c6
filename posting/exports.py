"""Exports of the built-in ledger: CSV (one row per journal line) and beancount text, which
beancount's own loader checks independently (every transaction balances, every account opened).

Both carry text people typed (account names, memos, descriptions): the CSV neutralises formulas
(core.spreadsheet), the beancount strings are escaped so a memo can never end its string or
start a directive of its own."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

from core.money import quantize
from core.spreadsheet import csv_writer
from mappings.models import Account
from posting.models import JournalEntry, JournalLine

CSV_HEADER = [
    "entry_id",
    "date",
    "source_key",
    "memo",
    "status",
    "currency",
    "account_code",
    "account_name",
    "debit",
    "credit",
    "description",
    "dimensions",
]

BEANCOUNT_ROOTS = {
    Account.Type.ASSET: "Assets",
    Account.Type.LIABILITY: "Liabilities",
    Account.Type.EQUITY: "Equity",
    Account.Type.REVENUE: "Income",
    Account.Type.EXPENSE: "Expenses",
}


def _lines(start: dt.date | None, end: dt.date | None):
    lines = (
        JournalLine.objects.exclude(entry__status=JournalEntry.Status.DRAFT)
        .select_related("entry", "account")
        .order_by("entry__date", "entry_id", "position")
    )
    if start is not None:
        lines = lines.filter(entry__date__gte=start)
    if end is not None:
        lines = lines.filter(entry__date__lte=end)
    return lines


def ledger_csv(*, start: dt.date | None = None, end: dt.date | None = None) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in _lines(start, end).iterator(chunk_size=2000):
        entry = line.entry
        writer.writerow(
            [
                entry.pk,
                entry.date.isoformat(),
                entry.source_key,
                entry.memo,
                entry.status,
                entry.currency,
                line.account.code,
                line.account.name,
                quantize(line.debit, entry.currency),
                quantize(line.credit, entry.currency),
                line.description,
                json.dumps(line.dimensions, sort_keys=True),
            ]
        )
    return buffer.getvalue()


def beancount_account(account: Account) -> str:
    """`Assets:1010-Operating-bank-account`: the code keeps names unique, the name keeps them readable."""
    label = re.sub(r"[^A-Za-z0-9]+", "-", f"{account.code}-{account.name}").strip("-")
    if not label[:1].isalnum():
        label = f"A{label}"
    return f"{BEANCOUNT_ROOTS[account.type]}:{label[:1].upper()}{label[1:]}"


_BEANCOUNT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Other control characters (NUL, vertical tab, form feed, ...) have no escape: they become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")


def _quoted(text: str) -> str:
    """A beancount string literal: backslash, quote, newline, CR and tab escaped (beancount reads
    them back as the original characters), other control characters replaced by a space."""
    text = _CONTROL.sub(" ", text)
    return '"' + "".join(_BEANCOUNT_ESCAPES.get(char, char) for char in text) + '"'


def ledger_beancount(*, start: dt.date | None = None, end: dt.date | None = None) -> str:
    lines = list(_lines(start, end))
    entries: dict[int, tuple[JournalEntry, list[JournalLine]]] = {}
    for line in lines:
        entries.setdefault(line.entry_id, (line.entry, []))[1].append(line)
    accounts = {line.account_id: line.account for line in lines}
    currencies = sorted({entry.currency for entry, _ in entries.values()})
    first = min((entry.date for entry, _ in entries.values()), default=dt.date(2000, 1, 1))
    out = ['option "title" "Tillbridge ledger"']
    out.extend(f'option "operating_currency" "{currency}"' for currency in currencies)
    out.append("")
    for account in sorted(accounts.values(), key=lambda account: account.code):
        out.append(f"{first.isoformat()} open {beancount_account(account)}")
    for entry, entry_lines in entries.values():
        out.append("")
        out.append(f"{entry.date.isoformat()} * {_quoted(entry.memo or entry.source_key)}")
        out.append(f"  source_key: {_quoted(entry.source_key)}")
        for line in entry_lines:
            amount = quantize(line.debit - line.credit, entry.currency)
            out.append(f"  {beancount_account(line.account)}  {amount} {entry.currency}")
    out.append("")
    return "\n".join(out)


FORMATS = {
    "csv": (ledger_csv, "text/csv; charset=utf-8"),
    "beancount": (ledger_beancount, "text/plain; charset=utf-8"),
}


def ledger_file(*, fmt: str, tenant_slug: str, start: dt.date | None, end: dt.date | None) -> tuple[str, str, str]:
    """The ledger export in `fmt` (a key of FORMATS): its text, file name and content type, for the
    ledger page's links and the API alike."""
    export, content_type = FORMATS[fmt]
    return export(start=start, end=end), f"ledger-{tenant_slug}.{fmt}", content_type
