"""Flat report rows: stable snake_case columns, lists joined with ``; ``."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class CommitmentReportRow(BaseModel):
    id: int
    code: str
    title: str
    lead_ministry_code: str
    lead_ministry_name: str
    supporting_ministry_codes: str
    recommendation_codes: str
    committed_on: date
    due_date: date
    reported_status: str
    progress_percent: int
    last_reported_at: datetime | None
    verdict: str
    contested: bool
    overdue: bool
    stale: bool


class RecommendationReportRow(BaseModel):
    id: int
    code: str
    title: str
    source: str
    source_date: date | None
    priority: str
    government_response: str
    provision_keys: str
    clusters: str
    instruments: str
    commitments: str
    implementation: str


class StatusHistoryRow(BaseModel):
    id: int
    commitment_id: int
    commitment_code: str
    ministry_code: str
    status: str
    progress_percent: int
    summary: str
    reported_by: int
    reported_at: datetime
    in_reply_to_assessment_id: int | None
    evidence_urls: str
