"""HTTP routes for flat reports (JSON array or CSV), streamed."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vpitracker.csvout import CSV_RESPONSE
from vpitracker.deps import CommitmentFiltersDep, OptionalId, ReportReader, StreamOpener
from vpitracker.errors import responses
from vpitracker.reports import service
from vpitracker.reports.schemas import (
    CommitmentReportRow,
    RecommendationReportRow,
    StatusHistoryRow,
)
from vpitracker.reports.streaming import ReportResponse, stream
from vpitracker.resources import ClockDep, Csv
from vpitracker.routing import ApiRoute

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=ApiRoute)
RESPONSES = {**responses(401, 403, 422, 429), **CSV_RESPONSE}


@router.get(
    "/commitments",
    operation_id="reports-commitments",
    response_model=list[CommitmentReportRow],
    responses=RESPONSES,
)
def commitments_report(
    request: Request,
    clock: ClockDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
    filters: CommitmentFiltersDep,
) -> ReportResponse:
    """One row per commitment: derived state, ministry codes and names (unpaginated)."""
    return stream(request, actor, opener, lambda d: service.commitments(d, clock, filters), csv)


@router.get(
    "/recommendations",
    operation_id="reports-recommendations",
    response_model=list[RecommendationReportRow],
    responses=RESPONSES,
)
def recommendations_report(
    request: Request,
    clock: ClockDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
) -> ReportResponse:
    """One row per recommendation with its implementation state (unpaginated)."""
    return stream(request, actor, opener, lambda d: service.recommendations(d, clock), csv)


@router.get(
    "/status-history",
    operation_id="reports-status-history",
    response_model=list[StatusHistoryRow],
    responses=RESPONSES,
)
def status_history_report(
    request: Request,
    clock: ClockDep,
    actor: ReportReader,
    opener: StreamOpener,
    csv: Csv,
    ministry_id: OptionalId = None,
    commitment_id: OptionalId = None,
) -> ReportResponse:
    """One row per status update, oldest first (unpaginated)."""
    return stream(
        request,
        actor,
        opener,
        lambda d: service.status_history(
            clock, ministry_id=ministry_id, commitment_id=commitment_id, dialect=d
        ),
        csv,
    )
