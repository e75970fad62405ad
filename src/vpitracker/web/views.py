"""What each page shows, gathered from the same services the API calls (no queries here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from vpitracker.audit import service as audit_service
from vpitracker.audit import transparency
from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.schemas import CommitmentRead
from vpitracker.config import Settings
from vpitracker.errors import NotFound, Unavailable
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters, MinistryFilters
from vpitracker.ministries import service as ministries_service
from vpitracker.ministries.schemas import MinistryRead
from vpitracker.models import Assessment, Ministry, StatusUpdate
from vpitracker.pagination import PageRequest
from vpitracker.progress import service as progress_service
from vpitracker.progress.schemas import MinistryRow
from vpitracker.provisions import service as provisions_service
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.schemas import RecommendationRead
from vpitracker.reporting import service as reporting_service
from vpitracker.users import service as users_service
from vpitracker.vocab import ASSESSOR_ROLES, REPORTER_ROLES, Verdict
from vpitracker.web import charts

PAGE_SIZE = 25
# Enough for every record on one commitment; the API pages beyond this.
ALL = 1000


def scorecard(session: Session, clock: Clock, lang: str) -> dict[str, Any]:
    figures = progress_service.scorecard(session, clock)
    summary, ministries = figures.summary, figures.ministries.items
    return {
        "summary": summary,
        "ministry_rows": charts.ministry_rows(ministries, lang),
        "clusters": figures.clusters.items,
        "instruments": figures.instruments.items,
        "timeline": figures.timeline.items,
        "status_chart": charts.status_chart(summary.by_reported_status.model_dump()),
        "timeline_chart": charts.timeline_chart(figures.timeline.items),
    }


def ministry_names(session: Session) -> dict[int, MinistryRead]:
    ministries, _ = ministries_service.list_ministries(
        session,
        filters=MinistryFilters(include_archived=True),
        page=PageRequest(limit=ALL, cursor=None, sort="code"),
    )
    return {m.id: m for m in ministries}


def commitments_page(
    session: Session, clock: Clock, filters: CommitmentFilters, cursor: str | None
) -> tuple[list[CommitmentRead], str | None]:
    return commitments_service.list_commitments(
        session,
        clock=clock,
        filters=filters,
        page=PageRequest(limit=PAGE_SIZE, cursor=cursor, sort="code"),
    )


@dataclass
class Entry:
    """One voice on a commitment's timeline: a government update or an alliance assessment."""

    kind: str  # "update" | "assessment"
    at: datetime
    record: StatusUpdate | Assessment
    author: str
    replies_to: int | None = None
    answered_by: list[int] = field(default_factory=list)


@dataclass
class CommitmentView:
    commitment: CommitmentRead
    lead: MinistryRead
    supporting: list[MinistryRead]
    recommendations: list[RecommendationRead]
    provisions: dict[str, str]
    entries: list[Entry]
    disputes: list[Assessment]
    updates: list[StatusUpdate]
    report_for: list[MinistryRead]
    may_assess: bool


def _author(session: Session, user_id: int, cache: dict[int, str]) -> str:
    if user_id not in cache:
        try:
            user = users_service.get(session, user_id)
            cache[user_id] = user.organization or user.full_name
        except NotFound:
            cache[user_id] = ""
    return cache[user_id]


def commitment_detail(
    session: Session, clock: Clock, commitment_id: int, actor: Actor
) -> CommitmentView:
    commitment, _ = commitments_service.read(session, commitment_id, clock)
    names = ministry_names(session)
    recommendations = [
        recommendations_service.read(session, rid, clock)[0]
        for rid in commitment.recommendation_ids
    ]
    provisions = {
        key: provisions_service.get(session, key).title
        for rec in recommendations
        for key in rec.provision_keys
    }
    every = PageRequest(limit=ALL, cursor=None, sort="-reported_at")
    updates, _ = reporting_service.list_updates(session, commitment_id=commitment_id, page=every)
    assessed = PageRequest(limit=ALL, cursor=None, sort="-assessed_at")
    assessments, _ = reporting_service.list_assessments(
        session, commitment_id=commitment_id, page=assessed
    )
    if clock.cutoff is not None:
        updates = [u for u in updates if u.reported_at < clock.cutoff]
        assessments = [a for a in assessments if a.assessed_at < clock.cutoff]
    authors: dict[int, str] = {}
    answered: dict[int, list[int]] = {}
    for u in updates:
        if u.in_reply_to_assessment_id is not None:
            answered.setdefault(u.in_reply_to_assessment_id, []).append(u.id or 0)
    entries = [
        Entry("update", u.reported_at, u, names[u.ministry_id].name, u.in_reply_to_assessment_id)
        for u in updates
    ] + [
        Entry(
            "assessment",
            a.assessed_at,
            a,
            _author(session, a.assessed_by, authors),
            answered_by=answered.get(a.id or 0, []),
        )
        for a in assessments
    ]
    entries.sort(key=lambda e: (e.at, e.kind), reverse=True)
    report_for: list[MinistryRead] = []
    if actor.kind == "user" and actor.role in REPORTER_ROLES and commitment.archived_at is None:
        model = commitments_service.get(session, commitment_id)
        allowed = reporting_service.reporting_ministries(session, actor, model)
        report_for = [names[m] for m in sorted(allowed, key=lambda m: names[m].code)]
    return CommitmentView(
        commitment=commitment,
        lead=names[commitment.lead_ministry_id],
        supporting=[names[m] for m in commitment.supporting_ministry_ids],
        recommendations=recommendations,
        provisions=provisions,
        entries=entries,
        disputes=[a for a in assessments if a.verdict == Verdict.disputes.value],
        updates=updates,
        report_for=report_for,
        may_assess=actor.kind == "user"
        and actor.role in ASSESSOR_ROLES
        and commitment.archived_at is None,
    )


def ministry_page(
    session: Session, clock: Clock, ministry_id: int, cursor: str | None
) -> tuple[Ministry, MinistryRow | None, list[CommitmentRead], str | None]:
    ministry = ministries_service.get(session, ministry_id)
    rows = progress_service.ministries(session, clock, ministry_id=ministry_id).items
    items, next_cursor = commitments_page(
        session, clock, CommitmentFilters(ministry_id=ministry_id), cursor
    )
    return ministry, rows[0] if rows else None, items, next_cursor


def _urgency(c: CommitmentRead) -> tuple[int, str]:
    # Disputed and awaiting a reply, overdue, stale first: what the officer must answer.
    return (0 if c.contested else 1 if c.overdue else 2 if c.stale else 3, c.code)


def desk(session: Session, clock: Clock, actor: Actor) -> list[CommitmentRead]:
    """The officer's commitments (led or supported by their ministries), most urgent first."""
    found: dict[int, CommitmentRead] = {}
    for ministry_id in sorted(actor.ministry_ids):
        cursor: str | None = None
        while True:
            page = PageRequest(limit=ALL, cursor=cursor, sort="id")
            items, cursor = commitments_service.list_commitments(
                session, clock=clock, filters=CommitmentFilters(ministry_id=ministry_id), page=page
            )
            found.update((c.id, c) for c in items)
            if cursor is None:
                break
    return sorted(found.values(), key=_urgency)


def audit_page(
    session: Session, settings: Settings
) -> tuple[audit_service.Verification, str | None]:
    """The verification result, and the signed checkpoint (None where no key is set up)."""
    try:
        checkpoint: str | None = transparency.checkpoint(session, settings)
    except Unavailable:
        checkpoint = None
    return audit_service.verify(session), checkpoint
