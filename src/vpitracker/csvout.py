"""CSV for dashboards and spreadsheets: RFC 4180, stable columns, formula-safe cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from vpitracker.i18n import N_, gettext, negotiate
from vpitracker.jsonutil import iso_z

# A spreadsheet runs a cell that starts with one of these as a formula: the ASCII signs,
# their full-width forms (which some spreadsheets fold to ASCII), and "|" (DDE in some).
FORMULA_START = (
    "=", "+", "-", "@", "\t", "\r", "|",
    "\uff1d", "\uff0b", "\uff0d", "\uff20",  # full-width = + - @
)  # fmt: skip
LIST_SEPARATOR = "; "


def neutralize(text: str) -> str:
    """Prefix a quote so the cell is read as text, never as a formula (OWASP)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value: object) -> str:
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


# English labels of report columns (``header=labels``); a nested ``a.b`` column is
# labelled "<a>: <b>". Column names themselves never change.
COLUMN_LABELS: dict[str, str] = {
    "agrees": N_("Agrees"),
    "as_of": N_("As of"),
    "by_implementation": N_("Implementation"),
    "by_reported_status": N_("Reported status"),
    "by_verdict": N_("Verdict"),
    "cancelled": N_("Cancelled"),
    "cluster": N_("Cluster"),
    "cluster_name": N_("Cluster name"),
    "clusters": N_("Clusters"),
    "code": N_("Code"),
    "commitment_code": N_("Commitment code"),
    "commitment_id": N_("Commitment id"),
    "commitments": N_("Commitments"),
    "commitments_completed_cumulative": N_("Commitments completed (cumulative)"),
    "commitments_led": N_("Commitments led"),
    "commitments_supporting": N_("Commitments supported"),
    "committed_on": N_("Committed on"),
    "completed": N_("Completed"),
    "contested": N_("Contested"),
    "days_since_last_update": N_("Days since the last status update"),
    "disputes": N_("Disputes"),
    "due_date": N_("Due date"),
    "evidence_urls": N_("Evidence links"),
    "government_response": N_("Government response"),
    "id": N_("Id"),
    "implementation": N_("Implementation"),
    "in_progress": N_("In progress"),
    "in_reply_to_assessment_id": N_("In reply to assessment"),
    "instrument": N_("Instrument"),
    "instruments": N_("Instruments"),
    "insufficient_evidence": N_("Insufficient evidence"),
    "last_reported_at": N_("Last reported at"),
    "lead_ministry_code": N_("Lead ministry code"),
    "lead_ministry_name": N_("Lead ministry"),
    "mean_progress_percent": N_("Mean progress (%)"),
    "ministry_code": N_("Ministry code"),
    "ministry_id": N_("Ministry id"),
    "ministry_name": N_("Ministry"),
    "no_commitment": N_("No commitment"),
    "not_started": N_("Not started"),
    "overdue": N_("Overdue"),
    "overdue_at_end": N_("Overdue at the end of the period"),
    "partially_agrees": N_("Partially agrees"),
    "percent_completed": N_("Completed (%)"),
    "period_end": N_("Period end"),
    "period_start": N_("Period start"),
    "priority": N_("Priority"),
    "progress_percent": N_("Progress (%)"),
    "provision_keys": N_("Provisions"),
    "recommendation_codes": N_("Recommendations"),
    "recommendations": N_("Recommendations"),
    "reported_at": N_("Reported at"),
    "reported_by": N_("Reported by"),
    "reported_status": N_("Reported status"),
    "source": N_("Source"),
    "source_date": N_("Source date"),
    "stale": N_("Stale"),
    "stalled": N_("Stalled"),
    "status": N_("Status"),
    "summary": N_("Summary"),
    "supporting_ministry_codes": N_("Supporting ministries"),
    "title": N_("Title"),
    "unassessed": N_("Unassessed"),
    "updates_posted": N_("Status updates posted"),
    "verdict": N_("Verdict"),
}

# The language of the header row when the request asked for ``header=labels``. Set by
# the ``wants_csv`` dependency every CSV route already has, read by ``csv_response``
# in the same request, so routes need no parameter of their own for it.
_HEADER_LANG: ContextVar[str | None] = ContextVar("csv_header_lang", default=None)


def column_label(column: str, lang: str) -> str:
    """The human label of ``column`` in ``lang`` (the name itself when it has none)."""
    return ": ".join(gettext(lang, COLUMN_LABELS.get(part, part)) for part in column.split("."))


def header_row(columns: Sequence[str]) -> list[str]:
    lang = _HEADER_LANG.get()
    return list(columns) if lang is None else [column_label(c, lang) for c in columns]


def csv_lines(columns: Sequence[str], records: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header row, then one record per row (values in column order), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header_row(columns))
    for n, record in enumerate(records, 1):
        writer.writerow([cell(value) for value in record])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, object]], filename: str
) -> StreamingResponse:
    return StreamingResponse(
        csv_lines(columns, ([row.get(c) for c in columns] for row in rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


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


async def wants_csv(
    request: Request,
    format: Annotated[
        Literal["json", "csv"] | None, Query(description="Answer as json (default) or csv")
    ] = None,
    header: Annotated[
        Literal["names", "labels"] | None,
        Query(description="CSV header row: column names (default) or human labels"),
    ] = None,
    lang: Annotated[
        Literal["en", "sw"] | None,
        Query(description="Language of header=labels (else Accept-Language)"),
    ] = None,
) -> bool:
    # async so the context variable is set in the request's own context, which the
    # route (run in a worker thread) inherits.
    if header == "labels":
        _HEADER_LANG.set(lang or negotiate(request.headers.get("accept-language")))
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
