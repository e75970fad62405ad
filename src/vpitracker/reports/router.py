"""HTTP routes for flat reports (JSON array or CSV), streamed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vpitracker.csvout import CSV_RESPONSE, wants_csv
from vpitracker.deps import AsOf, CommitmentFiltersDep, ReportReader, SettingsDep, StreamOpener
from vpitracker.errors import responses
from vpitracker.kernel.clock import Clock
from vpitracker.reports import service
from vpitracker.reports.schemas import (
    CommitmentReportRow,
    RecommendationReportRow,
    StatusHistoryRow,
)
from vpitracker.reports.streaming import stream

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Csv = Annotated[bool, Depends(wants_csv)]
RESPONSES = {**responses(401, 403, 422, 429), **CSV_RESPONSE}
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get(
    "/commitments",
    operation_id="reports-commitments",
    response_model=list[CommitmentReportRow],
    responses=RESPONSES,
)
def commitments_report(
    request: Request,
    settings: SettingsDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
    filters: CommitmentFiltersDep,
    as_of: AsOf = None,
) -> Any:
    """One row per commitment: derived state, ministry codes and names (unpaginated)."""
    clock = Clock.at(as_of, settings.stale_after_days)
    return stream(request, actor, opener, lambda d: service.commitments(d, clock, filters), csv)


@router.get(
    "/recommendations",
    operation_id="reports-recommendations",
    response_model=list[RecommendationReportRow],
    responses=RESPONSES,
)
def recommendations_report(
    request: Request,
    settings: SettingsDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
    as_of: AsOf = None,
) -> Any:
    """One row per recommendation with its implementation state (unpaginated)."""
    clock = Clock.at(as_of, settings.stale_after_days)
    return stream(request, actor, opener, lambda d: service.recommendations(d, clock), csv)


@router.get(
    "/status-history",
    operation_id="reports-status-history",
    response_model=list[StatusHistoryRow],
    responses=RESPONSES,
)
def status_history_report(
    request: Request,
    settings: SettingsDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
    ministry_id: OptionalId = None,
    commitment_id: OptionalId = None,
    as_of: AsOf = None,
) -> Any:
    """One row per status update, oldest first (unpaginated)."""
    clock = Clock.at(as_of, settings.stale_after_days)
    return stream(
        request,
        actor,
        opener,
        lambda _d: service.status_history(
            clock, ministry_id=ministry_id, commitment_id=commitment_id
        ),
        csv,
    )
