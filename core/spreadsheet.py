"""CSV for spreadsheets, safe from formula injection (DESIGN.md §7: exports neutralise formulas).

A cell a spreadsheet would evaluate (text starting with `=`, `+`, `-`, `@`, a tab or a carriage
return: OWASP's CSV injection list) is written with a leading single quote, so Excel, LibreOffice
and Google Sheets show it as text. Numbers stay numbers: an int, a Decimal or a plain numeric
string such as `-12.50` is written as is. Every CSV the product writes goes through `csv_writer`
(a test keeps `csv.writer` out of the rest of the source tree).

Every CSV a person uploads (a chart of accounts, a price list) is read by `csv_rows`: UTF-8 (a BOM is
fine), a header naming the columns, and every problem reported as a `RowError` with its line number,
so an import is all rows or none.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Protocol

from django.core.exceptions import ValidationError

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


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class RowsInvalid(ValidationError):
    """An upload with bad rows: nothing of it is written. `rows` says which and why."""

    def __init__(self, rows: list[RowError]):
        self.rows = sorted(rows, key=lambda row: row.line)
        super().__init__([str(row) for row in self.rows])


def csv_text(file: IO | bytes | str) -> str:
    content = file.read() if hasattr(file, "read") else file
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise RowsInvalid([RowError(1, "The file is not UTF-8 text.")]) from error
    return content.removeprefix("\ufeff")


def _header_variants(columns: tuple[str, ...], optional: tuple[str, ...]) -> str:
    variants = [",".join(columns + optional[:count]) for count in range(len(optional) + 1)]
    return " or ".join(variants)


def csv_rows(
    file: IO | bytes | str, *, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The uploaded CSV's rows as (line number, {column: stripped cell}), blank rows skipped, and the
    rows with more cells than the header as errors (the caller adds its own and raises them all).
    The header is `columns` followed by the first K of `optional`; a wrong header, an empty file or
    a file that is not UTF-8 raises `RowsInvalid` at once."""
    rows = list(csv.reader(io.StringIO(csv_text(file))))
    if not rows:
        raise RowsInvalid([RowError(1, "The file is empty.")])
    header = tuple(cell.strip().lower() for cell in rows[0])
    extra = header[len(columns) :]
    if header[: len(columns)] != columns or extra != optional[: len(extra)]:
        raise RowsInvalid([RowError(1, f"The header must be {_header_variants(columns, optional)}.")])
    parsed, errors = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            errors.append(RowError(number, f"{len(row)} columns, expected at most {len(header)}."))
            continue
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))
        parsed.append((number, dict(zip(header, cells, strict=True))))
    return parsed, errors
