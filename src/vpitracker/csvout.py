"""CSV for dashboards and spreadsheets: RFC 4180, stable columns, formula-safe cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from vpitracker.jsonutil import iso_z

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def neutralize(text: str) -> str:
    """Prefix a quote so the cell is read as text, never as a formula (OWASP)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return neutralize(LIST_SEPARATOR.join(cell(v) for v in value))
    return neutralize(str(value))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``<object>.<key>`` columns."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def csv_lines(columns: Sequence[str], records: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header row, then one record per row (values in column order), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for n, record in enumerate(records, 1):
        writer.writerow([cell(value) for value in record])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any]], filename: str
) -> StreamingResponse:
    return StreamingResponse(
        csv_lines(columns, ([row.get(c) for c in columns] for row in rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def model_rows(models: Iterable[BaseModel]) -> Iterator[dict[str, Any]]:
    for model in models:
        yield flatten(model.model_dump())


def columns_of(model: type[BaseModel]) -> list[str]:
    """Column names of a model, nested models flattened, in declaration order."""
    out: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(f"{name}.{sub}" for sub in columns_of(annotation))
        else:
            out.append(name)
    return out


def wants_csv(
    request: Request,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="Answer as json (default) or csv")
    ] = None,
) -> bool:
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
