"""Recommendation request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from vpitracker.types import (
    Code,
    IsoDate,
    LongText,
    OptionalLongText,
    RequestModel,
    ShortText,
    Title,
)
from vpitracker.vocab import GovernmentResponse, Implementation, Priority

ProvisionKeys = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^\x00]*$")]],
    Field(max_length=50),
]
RaisedBy = Annotated[list[ShortText], Field(max_length=100)]


class RecommendationCreate(RequestModel):
    code: Code
    title: Title
    text: LongText
    source: ShortText
    source_date: IsoDate | None = None
    raised_by: RaisedBy = Field(default_factory=list)
    provision_keys: ProvisionKeys = Field(default_factory=list)
    priority: Priority = Priority.medium
    government_response: GovernmentResponse = GovernmentResponse.pending
    response_note: OptionalLongText | None = None


class RecommendationUpdate(RequestModel):
    code: Code | None = None
    title: Title | None = None
    text: LongText | None = None
    source: ShortText | None = None
    source_date: IsoDate | None = None
    raised_by: RaisedBy | None = None
    provision_keys: ProvisionKeys | None = None
    priority: Priority | None = None
    government_response: GovernmentResponse | None = None
    response_note: OptionalLongText | None = None


class RecommendationRead(BaseModel):
    id: int
    code: str
    title: str
    text: str
    source: str
    source_date: date | None
    raised_by: list[str]
    provision_keys: list[str]
    priority: Priority
    government_response: GovernmentResponse
    response_note: str | None
    clusters: list[int]
    implementation: Implementation
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None
