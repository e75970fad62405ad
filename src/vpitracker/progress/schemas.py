"""Progress figures for dashboards (docs/concepts.md)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class StatusCounts(BaseModel):
    not_started: int
    in_progress: int
    completed: int
    stalled: int
    cancelled: int


class VerdictCounts(BaseModel):
    unassessed: int
    agrees: int
    partially_agrees: int
    disputes: int
    insufficient_evidence: int


class ImplementationCounts(BaseModel):
    no_commitment: int
    not_started: int
    in_progress: int
    completed: int


class Summary(BaseModel):
    as_of: date
    commitments: int
    by_reported_status: StatusCounts
    by_verdict: VerdictCounts
    overdue: int
    stale: int
    contested: int
    percent_completed: float
    mean_progress_percent: float
    recommendations: int
    by_implementation: ImplementationCounts


class Figures(BaseModel):
    """Status, overdue, stale, contested and mean progress over a set of commitments."""

    not_started: int
    in_progress: int
    completed: int
    stalled: int
    cancelled: int
    overdue: int
    stale: int
    contested: int
    mean_progress_percent: float | None = Field(
        description="Mean progress of the commitments counted, rounded to one decimal; "
        "null when the row counts no commitment (a ministry that leads none)."
    )


class _MinistryColumns(BaseModel):
    ministry_id: int
    ministry_code: str
    ministry_name: str
    commitments_led: int
    commitments_supporting: int


# Base order sets the column order (last base first): identity, then the figures.
class MinistryRow(Figures, _MinistryColumns):
    days_since_last_update: int | None


class MinistryScorecard(BaseModel):
    as_of: date
    items: list[MinistryRow]


class _ClusterColumns(BaseModel):
    cluster: int
    cluster_name: str
    commitments: int


class ClusterRow(Figures, _ClusterColumns):
    pass


class ClusterFigures(BaseModel):
    as_of: date
    items: list[ClusterRow]
    commitments_without_cluster: int = Field(
        description="Commitments counted that are in no cluster: none of their "
        "recommendations' provisions has a review cluster in the catalogue."
    )


class _InstrumentColumns(BaseModel):
    instrument: str
    commitments: int


class InstrumentRow(Figures, _InstrumentColumns):
    pass


class InstrumentFigures(BaseModel):
    as_of: date
    items: list[InstrumentRow]


class TimelineRow(BaseModel):
    period_start: date
    period_end: date
    updates_posted: int
    commitments_completed_cumulative: int
    overdue_at_end: int


class Timeline(BaseModel):
    interval: Literal["month", "quarter"]
    as_of: date
    items: list[TimelineRow]
