"""Commitment request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from vpitracker.types import Code, Id, IsoDate, LongText, RequestModel, Title
from vpitracker.vocab import DerivedVerdict, ReportedStatus

IdList = Annotated[list[Id], Field(max_length=100)]


class CommitmentCreate(RequestModel):
    code: Code
    title: Title
    description: LongText
    recommendation_ids: IdList = Field(default_factory=list)
    lead_ministry_id: Id
    supporting_ministry_ids: IdList = Field(default_factory=list)
    committed_on: IsoDate | None = Field(default=None, description="Defaults to today (UTC)")
    due_date: IsoDate
    indicator: LongText

    @model_validator(mode="after")
    def _dates_in_order(self) -> CommitmentCreate:
        if self.committed_on is not None and self.due_date < self.committed_on:
            raise ValueError("due_date must not be before committed_on")
        return self


class CommitmentUpdate(RequestModel):
    code: Code | None = None
    title: Title | None = None
    description: LongText | None = None
    recommendation_ids: IdList | None = None
    lead_ministry_id: Id | None = None
    supporting_ministry_ids: IdList | None = None
    committed_on: IsoDate | None = None
    due_date: IsoDate | None = None
    indicator: LongText | None = None


class CommitmentRead(BaseModel):
    id: int
    code: str
    title: str
    description: str
    recommendation_ids: list[int]
    lead_ministry_id: int
    supporting_ministry_ids: list[int]
    committed_on: date
    due_date: date
    indicator: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
    reported_status: ReportedStatus
    progress_percent: int
    last_reported_at: datetime | None
    verdict: DerivedVerdict
    contested: bool
    overdue: bool
    stale: bool
