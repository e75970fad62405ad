"""HTTP routes for dashboard progress figures (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from vpitracker.csvout import CSV_RESPONSE, columns_of, csv_response, flatten, model_rows, wants_csv
from vpitracker.deps import AsOf, ReportReader, SessionDep, SettingsDep
from vpitracker.errors import responses
from vpitracker.kernel.clock import Clock
from vpitracker.progress import service
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
from vpitracker.vocab import Instrument

router = APIRouter(prefix="/v1/progress", tags=["progress"])
MinistryFilter = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="Commitments this ministry leads or supports")
]
ClusterFilter = Annotated[int | None, Query(ge=1, le=4)]
Csv = Annotated[bool, Depends(wants_csv)]
RESPONSES = {**responses(401, 403, 422), **CSV_RESPONSE}


@router.get(
    "/summary", operation_id="progress-summary", response_model=Summary, responses=RESPONSES
)
def summary(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
    as_of: AsOf = None,
) -> Any:
    """Counts by reported status and verdict, overdue, stale, contested, completion."""
    result = service.summary(
        session,
        Clock.at(as_of, settings.stale_after_days),
        ministry_id=ministry_id,
        cluster=cluster,
        instrument=instrument,
    )
    if csv:
        return csv_response(columns_of(Summary), [flatten(result.model_dump())], "summary")
    return result


@router.get(
    "/ministries",
    operation_id="progress-ministries",
    response_model=MinistryScorecard,
    responses=RESPONSES,
)
def ministries(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    ministry_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
    as_of: AsOf = None,
) -> Any:
    """The scorecard: one row per ministry (commitments led, status counts, last update)."""
    result = service.ministries(
        session,
        Clock.at(as_of, settings.stale_after_days),
        ministry_id=ministry_id,
        cluster=cluster,
        instrument=instrument,
    )
    if csv:
        return csv_response(columns_of(MinistryRow), model_rows(result.items), "ministries")
    return result


@router.get(
    "/clusters",
    operation_id="progress-clusters",
    response_model=ClusterFigures,
    responses=RESPONSES,
)
def clusters(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    instrument: Instrument | None = None,
    as_of: AsOf = None,
) -> Any:
    """Figures per UNTOC review cluster."""
    result = service.clusters(
        session,
        Clock.at(as_of, settings.stale_after_days),
        ministry_id=ministry_id,
        instrument=instrument,
    )
    if csv:
        return csv_response(columns_of(ClusterRow), model_rows(result.items), "clusters")
    return result


@router.get(
    "/instruments",
    operation_id="progress-instruments",
    response_model=InstrumentFigures,
    responses=RESPONSES,
)
def instruments(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
    as_of: AsOf = None,
) -> Any:
    """Figures per instrument (UNTOC and its three Protocols)."""
    result = service.instruments(
        session,
        Clock.at(as_of, settings.stale_after_days),
        ministry_id=ministry_id,
        cluster=cluster,
    )
    if csv:
        return csv_response(columns_of(InstrumentRow), model_rows(result.items), "instruments")
    return result


@router.get(
    "/timeline", operation_id="progress-timeline", response_model=Timeline, responses=RESPONSES
)
def timeline(
    session: SessionDep,
    settings: SettingsDep,
    _actor: ReportReader,
    csv: Csv,
    interval: Literal["month", "quarter"] = "month",
    ministry_id: MinistryFilter = None,
    cluster: ClusterFilter = None,
    instrument: Instrument | None = None,
    as_of: AsOf = None,
) -> Any:
    """Per period: updates posted, commitments completed (cumulative), overdue at period end."""
    result = service.timeline(
        session,
        Clock.at(as_of, settings.stale_after_days),
        interval=interval,
        ministry_id=ministry_id,
        cluster=cluster,
        instrument=instrument,
    )
    if csv:
        return csv_response(columns_of(TimelineRow), model_rows(result.items), "timeline")
    return result
