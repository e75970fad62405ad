"""Status update and assessment bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vpitracker.types import NUMBER_ONLY, EvidenceLink, Id, LongText, RequestModel
from vpitracker.vocab import ReportedStatus, Verdict

Evidence = Annotated[list[EvidenceLink], Field(max_length=20)]


def _http_only(links: list[EvidenceLink]) -> list[EvidenceLink]:
    for link in links:
        if link.url.scheme not in ("http", "https"):
            raise ValueError("evidence URLs must be http or https")
    return links


def completion_problem(status: ReportedStatus, progress_percent: int) -> str | None:
    """Why a report's status and progress disagree (the API and the import ask the same)."""
    if status is ReportedStatus.completed and progress_percent != 100:
        return "a completed commitment reports progress_percent 100"
    return None


class StatusUpdateCreate(RequestModel):
    status: ReportedStatus
    progress_percent: Annotated[
        int,
        Field(ge=0, le=100, description="0-100; a `completed` status must report 100"),
        NUMBER_ONLY,
    ]
    summary: LongText
    evidence: Evidence = Field(default_factory=list)
    in_reply_to_assessment_id: Id | None = None
    ministry_id: Id | None = Field(
        default=None, description="Which of your ministries this is for (when you have several)"
    )

    _check_evidence = field_validator("evidence")(_http_only)

    @model_validator(mode="after")
    def _completed_is_complete(self) -> StatusUpdateCreate:
        problem = completion_problem(self.status, self.progress_percent)
        if problem is not None:
            raise ValueError(problem)
        return self


class AssessmentCreate(RequestModel):
    status_update_id: Id | None = None
    verdict: Verdict
    assessed_status: ReportedStatus
    rationale: LongText
    evidence: Evidence = Field(default_factory=list)

    _check_evidence = field_validator("evidence")(_http_only)


class EvidenceRead(BaseModel):
    url: str
    title: str


class StatusUpdateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commitment_id: int
    ministry_id: int
    status: ReportedStatus
    progress_percent: int
    summary: str
    evidence: list[EvidenceRead]
    in_reply_to_assessment_id: int | None
    reported_by: int
    reported_at: datetime
    imported: bool


class AssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commitment_id: int
    status_update_id: int | None
    verdict: Verdict
    assessed_status: ReportedStatus
    rationale: str
    evidence: list[EvidenceRead]
    assessed_by: int
    assessed_at: datetime
    imported: bool


def evidence_rows(links: list[EvidenceLink]) -> list[dict[str, Any]]:
    return [{"url": str(link.url), "title": link.title} for link in links]
