"""Read and write spreadsheets: CSV (RFC 4180, UTF-8), XLSX (openpyxl) and JSON Lines.

Text cells are written formula-safe (``csvout.neutralize``); a cell that already starts
with a quote gets one more, so :func:`unprotect` can take exactly one off again and a
round trip gives back the very text that was exported.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from vpitracker.csvout import FORMULA_START, LIST_SEPARATOR, cell, neutralize

MAX_ROWS = 50_000
MAX_COLUMNS = 100
# An .xlsx is a zip: refuse one that would inflate past this (a "zip bomb").
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
_XLSX_MAGIC = b"PK\x03\x04"


class FileProblem(Exception):
    """The file as a whole cannot be read (not a row's fault)."""


@dataclass
class Table:
    """A sheet's header and its non-blank data rows, numbered as the spreadsheet shows them."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Cells to the right of the header that hold something: (row, column number).
    stray_cells: list[tuple[int, int]] = field(default_factory=list)


def protect(text: str) -> str:
    """Formula-safe text that :func:`unprotect` turns back into ``text`` exactly."""
    return "'" + text if text.startswith("'") else neutralize(text)


def unprotect(text: str) -> str:
    """Take off the quote that :func:`protect` (or a spreadsheet user) put in front."""
    if len(text) > 1 and text[0] == "'" and text[1] in (*FORMULA_START, "'"):
        return text[1:]
    return text


def timestamp_text(value: datetime) -> str:
    """ISO 8601 UTC with ``Z``; fractions of a second only when there are any."""
    value = value.astimezone(UTC)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def text_of(value: Any) -> str:
    """How a value reads in a spreadsheet cell (before formula protection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(text_of(v) for v in value)
    if isinstance(value, str):
        return value
    return cell(value)


def export_cell(value: Any) -> str:
    return protect(text_of(value))


# --- reading ---------------------------------------------------------------------------


def read_table(data: bytes, *, filename: str = "", sheet: str | None = None) -> Table:
    """Parse an uploaded or local file: XLSX when it is a zip, else UTF-8 CSV."""
    if data.startswith(_XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data, sheet)
    return _read_csv(data)


def _table(records: Iterable[Sequence[str]]) -> Table:
    iterator = iter(records)
    try:
        raw_header = next(iterator)
    except StopIteration:
        raise FileProblem("the file is empty: the first row must name the columns") from None
    header = [h.strip() for h in raw_header]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise FileProblem("the first row must name the columns")
    if len(header) > MAX_COLUMNS:
        raise FileProblem(f"at most {MAX_COLUMNS} columns")
    table = Table(header=header)
    for number, record in enumerate(iterator, start=2):
        cells = [unprotect(c) for c in record]
        if not any(c.strip() for c in cells):
            continue
        if len(table.rows) >= MAX_ROWS:
            raise FileProblem(f"at most {MAX_ROWS} data rows in one file")
        table.stray_cells.extend(
            (number, i + 1) for i, c in enumerate(cells[len(header) :], start=len(header)) if c
        )
        cells += [""] * (len(header) - len(cells))
        table.rows.append((number, dict(zip(header, cells, strict=False))))
    return table


def _read_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"the file is neither an .xlsx workbook nor UTF-8 CSV (byte {exc.start})"
        ) from None
    if "\x00" in text:
        raise FileProblem("the file is neither an .xlsx workbook nor UTF-8 CSV")
    try:
        return _table(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileProblem(f"the CSV cannot be read: {exc}") from None


def _xlsx_text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0, dates and times as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return timestamp_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    buffer = io.BytesIO(data)
    try:
        with zipfile.ZipFile(buffer) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_XLSX_UNCOMPRESSED:
                raise FileProblem("the workbook is too large once uncompressed")
        buffer.seek(0)
        workbook = load_workbook(buffer, read_only=True, data_only=True)
    except FileProblem:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise FileProblem(f"the .xlsx workbook cannot be read ({type(exc).__name__})") from None
    try:
        worksheet: Any
        if sheet is not None and sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        rows: Iterator[tuple[Any, ...]] = worksheet.iter_rows(values_only=True)
        return _table([_xlsx_text(v) for v in row] for row in rows)
    finally:
        workbook.close()


# --- writing ---------------------------------------------------------------------------


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([export_cell(row.get(c)) for c in columns])
            count += 1
    return count


def write_jsonl(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """One JSON object per line: lists stay lists, numbers stay numbers."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            item = {c: _json_value(row.get(c)) for c in columns}
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


def _json_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return text_of(value)


def write_xlsx(
    path: Path, sheets: Iterable[tuple[str, Sequence[str], Iterable[Mapping[str, Any]]]]
) -> dict[str, int]:
    """One workbook, a sheet per (name, columns, rows); returns rows written per sheet."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    counts: dict[str, int] = {}
    for name, columns, rows in sheets:
        worksheet = workbook.create_sheet(title=name)
        worksheet.append(list(columns))
        count = 0
        for row in rows:
            worksheet.append([_xlsx_cell(row.get(c)) for c in columns])
            count += 1
        counts[name] = count
    workbook.save(path)
    return counts


def _xlsx_cell(value: Any) -> str | int:
    # Whole numbers stay numbers; everything else is text, never a formula.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return export_cell(value)
