"""CSV for spreadsheets, safe from formula injection (DESIGN.md §7: exports neutralise formulas).

A cell a spreadsheet would evaluate (text starting with `=`, `+`, `-`, `@`, a tab or a carriage
return: OWASP's CSV injection list) is written with a leading single quote, so Excel, LibreOffice
and Google Sheets show it as text. Numbers stay numbers: an int, a Decimal or a plain numeric
string such as `-12.50` is written as is. Every CSV the product writes goes through `csv_writer`
(a test keeps `csv.writer` out of the rest of the source tree).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def csv_cell(value: Any) -> Any:
    """The value as a safe cell: numbers unchanged, formula-like text prefixed with a quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeCsvWriter:
    """`csv.writer` with every cell passed through `csv_cell`."""

    def __init__(self, stream: _Writable, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: _Writable, **options: Any) -> SafeCsvWriter:
    return SafeCsvWriter(stream, **options)
