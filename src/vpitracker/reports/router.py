"""HTTP routes for flat reports (JSON array or CSV)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from vpitracker.commitments.router import Filters
from vpitracker.commitments.state import Clock
from vpitracker.csvout import CSV_RESPONSE, columns_of, csv_response, model_rows, wants_csv
from vpitracker.deps import AsOf, ReportReader, SessionDep, SettingsDep
from vpitracker.errors import responses
from vpitracker.reports import service
from vpitracker.reports.schemas import (
    CommitmentReportRow,
    RecommendationReportRow,
    StatusHistoryRow,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Csv = Annotated[bool, Depends(wants_csv)]
RESPONSES = {**responses(401, 403, 422), **CSV_RESPONSE}
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get(
    "/commitments",
    operation_id="reports-commitments",
    response_model=list[CommitmentReportRow],
    responses=RESPONSES,
)
def commitments_report(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    filters: Filters,
    as_of: AsOf = None,
) -> Any:
    """One row per commitment: derived state, ministry codes and names (unpaginated)."""
    rows = service.commitments(session, Clock.at(as_of, settings.stale_after_days), filters)
    if csv:
        return csv_response(columns_of(CommitmentReportRow), model_rows(rows), "commitments")
    return rows


@router.get(
    "/recommendations",
    operation_id="reports-recommendations",
    response_model=list[RecommendationReportRow],
    responses=RESPONSES,
)
def recommendations_report(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    as_of: AsOf = None,
) -> Any:
    """One row per recommendation with its implementation state (unpaginated)."""
    rows = service.recommendations(session, Clock.at(as_of, settings.stale_after_days))
    if csv:
        return csv_response(
            columns_of(RecommendationReportRow), model_rows(rows), "recommendations"
        )
    return rows


@router.get(
    "/status-history",
    operation_id="reports-status-history",
    response_model=list[StatusHistoryRow],
    responses=RESPONSES,
)
def status_history_report(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    ministry_id: OptionalId = None,
    commitment_id: OptionalId = None,
    as_of: AsOf = None,
) -> Any:
    """One row per status update, oldest first (unpaginated)."""
    rows = service.status_history(
        session,
        Clock.at(as_of, settings.stale_after_days),
        ministry_id=ministry_id,
        commitment_id=commitment_id,
    )
    if csv:
        return csv_response(columns_of(StatusHistoryRow), model_rows(rows), "status-history")
    return rows
