"""HTTP routes for dashboard progress figures (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from vpitracker.csvout import CSV_RESPONSE
from vpitracker.deps import FiguresReader, OptionalId, SessionDep
from vpitracker.errors import responses
from vpitracker.progress import service, timeline_service
from vpitracker.progress.schemas import (
    ClusterFigures,
    ClusterRow,
    InstrumentFigures,
    InstrumentRow,
    MinistryRow,
    MinistryScorecard,
    Summary,
    Timeline,
    TimelineRow,
)
from vpitracker.resources import ClockDep, Csv, checked_read, json_or_csv
from vpitracker.routing import ApiRoute
from vpitracker.vocab import Instrument

router = APIRouter(prefix="/v1/progress", tags=["progress"], route_class=ApiRoute)
MinistryFilter = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="Commitments this ministry leads or supports")
]
ClusterFilter = Annotated[int | None, Query(ge=1, le=4)]
RESPONSES = {**responses(401, 403, 422), **CSV_RESPONSE}


@router.get(
    "/summary", operation_id="progress-summary", response_model=Summary, responses=RESPONSES
)
async def summary(
    session: SessionDep,
    clock: ClockDep,
    caller: FiguresReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
) -> Summary | Response:
    """Counts by reported status and verdict, overdue, stale, contested, completion."""

    def read() -> Summary | Response:
        result = service.summary(
            session, clock, ministry_id=ministry_id, cluster=cluster, instrument=instrument
        )
        return json_or_csv(result, csv, "summary")

    return await checked_read(session, caller, read)


@router.get(
    "/ministries",
    operation_id="progress-ministries",
    response_model=MinistryScorecard,
    responses=RESPONSES,
)
async def ministries(
    session: SessionDep,
    clock: ClockDep,
    caller: FiguresReader,
    csv: Csv,
    ministry_id: OptionalId = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
) -> MinistryScorecard | Response:
    """The scorecard: one row per ministry (commitments led, status counts, last update)."""

    def read() -> MinistryScorecard | Response:
        result = service.ministries(
            session, clock, ministry_id=ministry_id, cluster=cluster, instrument=instrument
        )
        return json_or_csv(result, csv, "ministries", row=MinistryRow)

    return await checked_read(session, caller, read)


@router.get(
    "/clusters",
    operation_id="progress-clusters",
    response_model=ClusterFigures,
    responses=RESPONSES,
)
async def clusters(
    session: SessionDep,
    clock: ClockDep,
    caller: FiguresReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    instrument: Instrument | None = None,
) -> ClusterFigures | Response:
    """Figures per UNTOC review cluster."""

    def read() -> ClusterFigures | Response:
        result = service.clusters(session, clock, ministry_id=ministry_id, instrument=instrument)
        return json_or_csv(result, csv, "clusters", row=ClusterRow)

    return await checked_read(session, caller, read)


@router.get(
    "/instruments",
    operation_id="progress-instruments",
    response_model=InstrumentFigures,
    responses=RESPONSES,
)
async def instruments(
    session: SessionDep,
    clock: ClockDep,
    caller: FiguresReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
) -> InstrumentFigures | Response:
    """Figures per instrument (UNTOC and its three Protocols)."""

    def read() -> InstrumentFigures | Response:
        result = service.instruments(session, clock, ministry_id=ministry_id, cluster=cluster)
        return json_or_csv(result, csv, "instruments", row=InstrumentRow)

    return await checked_read(session, caller, read)


@router.get(
    "/timeline", operation_id="progress-timeline", response_model=Timeline, responses=RESPONSES
)
async def timeline(
    session: SessionDep,
    clock: ClockDep,
    caller: FiguresReader,
    csv: Csv,
    interval: Literal["month", "quarter"] = "month",
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
) -> Timeline | Response:
    """Per period: updates posted, commitments completed (cumulative), overdue at period end."""

    def read() -> Timeline | Response:
        result = timeline_service.timeline(
            session,
            clock,
            interval=interval,
            ministry_id=ministry_id,
            cluster=cluster,
            instrument=instrument,
        )
        return json_or_csv(result, csv, "timeline", row=TimelineRow)

    return await checked_read(session, caller, read)
