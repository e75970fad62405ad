"""Flat reports for spreadsheets and BI tools."""

from __future__ import annotations

from sqlmodel import Session

from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.repository import CommitmentFilters
from vpitracker.commitments.state import Clock
from vpitracker.csvout import LIST_SEPARATOR
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.repository import RecommendationFilters
from vpitracker.reports import repository
from vpitracker.reports.schemas import (
    CommitmentReportRow,
    RecommendationReportRow,
    StatusHistoryRow,
)


def _join(values: list[str]) -> str:
    return LIST_SEPARATOR.join(values)


def commitments(
    session: Session, clock: Clock, filters: CommitmentFilters
) -> list[CommitmentReportRow]:
    """One row per commitment with its derived state and ministry names."""
    counted = commitments_service.state_query(clock, filters).subquery("counted")
    supporting = repository.supporting_codes(session, counted)
    recs = repository.recommendation_codes(session, counted)
    return [
        CommitmentReportRow(
            id=row.id,
            code=row.code,
            title=row.title,
            lead_ministry_code=row.lead_code,
            lead_ministry_name=row.lead_name,
            supporting_ministry_codes=_join(supporting.get(row.id, [])),
            recommendation_codes=_join(recs.get(row.id, [])),
            committed_on=row.committed_on,
            due_date=row.due_date,
            reported_status=row.reported_status,
            progress_percent=row.progress_percent,
            last_reported_at=row.last_reported_at,
            verdict=row.verdict,
            contested=bool(row.contested),
            overdue=bool(row.overdue),
            stale=bool(row.stale),
        )
        for row in repository.commitment_rows(session, counted)
    ]


def recommendations(session: Session, clock: Clock) -> list[RecommendationReportRow]:
    """One row per recommendation with its implementation state."""
    recs = recommendations_service.implementation_query(clock, RecommendationFilters()).subquery(
        "recs"
    )
    counted = commitments_service.state_query(clock, CommitmentFilters()).subquery("counted")
    provisions = repository.provisions_of(session, recs)
    commitment_codes = repository.commitment_codes_of(session, recs, counted)
    out = []
    for row in repository.recommendation_rows(session, recs):
        linked = provisions.get(row.id, [])
        out.append(
            RecommendationReportRow(
                id=row.id,
                code=row.code,
                title=row.title,
                source=row.source,
                source_date=row.source_date,
                priority=row.priority,
                government_response=row.government_response,
                provision_keys=_join([key for key, _, _ in linked]),
                clusters=_join([str(c) for c in sorted({c for _, c, _ in linked if c})]),
                instruments=_join(sorted({i for _, _, i in linked})),
                commitments=_join(commitment_codes.get(row.id, [])),
                implementation=row.implementation,
            )
        )
    return out


def status_history(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    commitment_id: int | None = None,
) -> list[StatusHistoryRow]:
    """One row per status update, oldest first."""
    return [
        StatusHistoryRow(
            id=row.id,
            commitment_id=row.commitment_id,
            commitment_code=row.commitment_code,
            ministry_code=row.ministry_code,
            status=row.status,
            progress_percent=row.progress_percent,
            summary=row.summary,
            reported_by=row.reported_by,
            reported_at=row.reported_at,
            in_reply_to_assessment_id=row.in_reply_to_assessment_id,
            evidence_urls=_join([str(e.get("url", "")) for e in row.evidence or []]),
        )
        for row in repository.status_history(
            session, cutoff=clock.cutoff, ministry_id=ministry_id, commitment_id=commitment_id
        )
    ]
