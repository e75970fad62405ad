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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from vpitracker.csvout import FORMULA_START, LIST_SEPARATOR, cell, neutralize
from vpitracker.i18n import N_

# Rows after the header, blank ones included: a sheet of empty rows costs time to read too.
MAX_ROWS = 50_000
MAX_COLUMNS = 100
# Cells read in all (each row as wide as its last cell), the header included.
MAX_CELLS = 1_000_000
# An .xlsx is a zip. Before openpyxl opens one: at most this much once inflated (a
# "zip bomb" refused), this many parts, and this much for any part read whole into
# memory (every part but the worksheets, which are streamed: shared strings, styles).
MAX_XLSX_INFLATED = 100 * 1024 * 1024
MAX_XLSX_PARTS = 1000
MAX_XLSX_WHOLE_PART = 32 * 1024 * 1024
_MIB = 1024 * 1024
_XLSX_MAGIC = b"PK\x03\x04"
# Password-protected .xlsx files (and old .xls ones) are OLE compound files, not zips.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CONTENT_TYPES = "[Content_Types].xml"


class FileProblem(Exception):
    """The file as a whole cannot be read (not a row's fault).

    ``template`` is an English sentence with ``%(name)s`` placeholders that the
    catalogs translate; ``params`` fill it.
    """

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params
        super().__init__(template % params if params else template)


@dataclass
class Table:
    """A sheet's header and its non-blank data rows, numbered as the spreadsheet shows them."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Cells to the right of the header that hold something: (row, column number).
    stray_cells: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Row:
    """A non-blank data row: its number in the sheet, its cells by column name."""

    number: int
    cells: dict[str, str]
    # Column numbers to the right of the header whose cell holds something.
    stray: list[int]


@dataclass
class Sheet:
    """A sheet being read: the header, then the data rows one at a time (read once)."""

    header: list[str]
    rows: Iterator[Row] = field(default_factory=lambda: iter(()))
    # Non-blank data rows read so far.
    data_rows: int = 0


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


def text_of(value: object) -> str:
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


def export_cell(value: object) -> str:
    return protect(text_of(value))


# --- reading ---------------------------------------------------------------------------


def is_xlsx(data: bytes, filename: str = "") -> bool:
    return data.startswith(_XLSX_MAGIC) or filename.lower().endswith(".xlsx")


@contextmanager
def open_table(data: bytes, *, filename: str = "", sheet: str | None = None) -> Iterator[Sheet]:
    """The sheet in an uploaded or local file (XLSX when it is a zip, else UTF-8 CSV).

    Rows are read as ``Sheet.rows`` is consumed, so a file is never held as cells
    all at once; every limit (rows, cells, the archive's sizes) is checked on the way
    and broken with :class:`FileProblem`.
    """
    if not is_xlsx(data, filename):
        yield _sheet(_csv_records(data))
        return
    from openpyxl import load_workbook

    check_archive(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise _unreadable(exc) from None
    try:
        worksheet: Any
        if sheet is not None and sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        # Rows as wide as their last cell, not as the sheet's (claimed) dimension.
        worksheet.reset_dimensions()
        yield _sheet(_xlsx_records(worksheet))
    finally:
        workbook.close()


def read_table(data: bytes, *, filename: str = "", sheet: str | None = None) -> Table:
    """The whole sheet at once (for small files and tests; imports use :func:`open_table`)."""
    with open_table(data, filename=filename, sheet=sheet) as opened:
        table = Table(header=opened.header)
        for row in opened.rows:
            table.rows.append((row.number, row.cells))
            table.stray_cells.extend((row.number, column) for column in row.stray)
    return table


def check_archive(data: bytes) -> None:
    """Refuse a workbook whose opening alone would cost too much (before openpyxl sees it).

    zipfile never inflates a part past the size its directory declares (a part that
    would is refused as damaged), so the declared sizes bound the real ones.
    """
    if data.startswith(_OLE_MAGIC):
        raise FileProblem(
            N_(
                "the workbook is password-protected (or an old .xls file): save it as .xlsx "
                "without a password"
            )
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_XLSX_PARTS:
                raise FileProblem(
                    N_("the workbook has %(count)s parts; at most %(limit)s"),
                    count=len(parts),
                    limit=MAX_XLSX_PARTS,
                )
            _check_parts(parts)
            streamed = _worksheet_parts(archive)
    except FileProblem:
        raise
    except Exception as exc:  # a damaged zip or [Content_Types].xml
        raise _unreadable(exc) from None
    for part in parts:
        if part.filename not in streamed and part.file_size > MAX_XLSX_WHOLE_PART:
            raise FileProblem(
                N_("the part %(name)s of the workbook inflates to %(size)s MiB; at most %(limit)s"),
                name=part.filename,
                size=-(-part.file_size // _MIB),
                limit=MAX_XLSX_WHOLE_PART // _MIB,
            )


def _check_parts(parts: list[zipfile.ZipInfo]) -> None:
    names: set[str] = set()
    for part in parts:
        if part.flag_bits & 0x1:
            raise FileProblem(N_("the workbook is encrypted: save it as .xlsx without a password"))
        if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileProblem(N_("the workbook is compressed in a way .xlsx files never are"))
        if part.filename in names:
            raise FileProblem(N_("the workbook holds the part %(name)s twice"), name=part.filename)
        names.add(part.filename)
    inflated = sum(part.file_size for part in parts)
    if inflated > MAX_XLSX_INFLATED:
        raise FileProblem(
            N_("the workbook inflates to %(size)s MiB once uncompressed; at most %(limit)s MiB"),
            size=-(-inflated // _MIB),
            limit=MAX_XLSX_INFLATED // _MIB,
        )


def _worksheet_parts(archive: zipfile.ZipFile) -> set[str]:
    """The parts openpyxl streams (worksheets), by the package's own content types."""
    from openpyxl.xml.constants import CONTYPES_NS, WORKSHEET_TYPE
    from openpyxl.xml.functions import fromstring  # defusedxml underneath

    if archive.getinfo(_CONTENT_TYPES).file_size > MAX_XLSX_WHOLE_PART:
        return set()  # refused by the caller like any other oversized part
    root = fromstring(archive.read(_CONTENT_TYPES))
    return {
        str(o.get("PartName", "")).lstrip("/")
        for o in root.iter(f"{{{CONTYPES_NS}}}Override")
        if o.get("ContentType") == WORKSHEET_TYPE
    }


def _unreadable(exc: BaseException) -> FileProblem:
    return FileProblem(
        N_("the .xlsx workbook cannot be read (%(error)s)"), error=type(exc).__name__
    )


def _sheet(records: Iterator[Sequence[str]]) -> Sheet:
    counted = _counted(records)
    try:
        raw_header = next(counted)
    except StopIteration:
        raise FileProblem(N_("the file is empty: the first row must name the columns")) from None
    header = [h.strip() for h in raw_header]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise FileProblem(N_("the first row must name the columns"))
    if len(header) > MAX_COLUMNS:
        raise FileProblem(N_("at most %(limit)s columns"), limit=MAX_COLUMNS)
    sheet = Sheet(header=header)
    sheet.rows = _data_rows(sheet, counted)
    return sheet


def _counted(records: Iterator[Sequence[str]]) -> Iterator[Sequence[str]]:
    """The records, refused past MAX_ROWS rows after the header (blank or not) or MAX_CELLS."""
    cells = 0
    for index, record in enumerate(records):
        if index > MAX_ROWS:
            raise FileProblem(
                N_("at most %(limit)s rows after the header, blank rows included"),
                limit=MAX_ROWS,
            )
        cells += len(record)
        if cells > MAX_CELLS:
            raise FileProblem(
                N_("at most %(limit)s cells in one file, empty ones within a row included"),
                limit=MAX_CELLS,
            )
        yield record


def _data_rows(sheet: Sheet, records: Iterator[Sequence[str]]) -> Iterator[Row]:
    header = sheet.header
    width = len(header)
    for number, record in enumerate(records, start=2):
        cells = [unprotect(c) for c in record]
        if not any(c.strip() for c in cells):
            continue
        sheet.data_rows += 1
        stray = [i + 1 for i, c in enumerate(cells[width:], start=width) if c]
        cells += [""] * (width - len(cells))
        yield Row(number, dict(zip(header, cells, strict=False)), stray)


def _csv_records(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            N_("the file is neither an .xlsx workbook nor UTF-8 CSV (byte %(offset)s)"),
            offset=exc.start,
        ) from None
    if "\x00" in text:
        raise FileProblem(N_("the file is neither an .xlsx workbook nor UTF-8 CSV"))
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise FileProblem(N_("the CSV cannot be read: %(reason)s"), reason=str(exc)) from None


def _xlsx_records(worksheet: Any) -> Iterator[list[str]]:
    try:
        for row in worksheet.iter_rows(values_only=True):
            yield [_xlsx_text(v) for v in row]
    except FileProblem:
        raise
    except Exception as exc:  # a damaged sheet shows only once it is read
        raise _unreadable(exc) from None


def _xlsx_text(value: object) -> str:
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


# --- writing ---------------------------------------------------------------------------


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([export_cell(row.get(c)) for c in columns])
            count += 1
    return count


def write_jsonl(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> int:
    """One JSON object per line: lists stay lists, numbers stay numbers."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            item = {c: _json_value(row.get(c)) for c in columns}
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


def _json_value(value: object) -> object:
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return text_of(value)


def write_xlsx(
    path: Path, sheets: Iterable[tuple[str, Sequence[str], Iterable[Mapping[str, object]]]]
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


def _xlsx_cell(value: object) -> str | int:
    # Whole numbers stay numbers; everything else is text, never a formula.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return export_cell(value)
