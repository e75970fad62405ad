"""Bulk reads for import matching and export: whole tables keyed the way files name them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    User,
    UserMinistry,
)


def ministries(session: Session) -> list[Ministry]:
    return list(session.exec(select(Ministry).order_by(col(Ministry.id))).all())


def recommendations(session: Session) -> list[Recommendation]:
    return list(session.exec(select(Recommendation).order_by(col(Recommendation.id))).all())


def commitments(session: Session) -> list[Commitment]:
    return list(session.exec(select(Commitment).order_by(col(Commitment.id))).all())


def provision_keys(session: Session) -> set[str]:
    return set(session.exec(select(Provision.key)).all())


def provisions_by_recommendation(session: Session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    stmt = select(
        RecommendationProvision.recommendation_id, RecommendationProvision.provision_key
    ).order_by(col(RecommendationProvision.provision_key))
    for rid, key in session.exec(stmt).all():
        out[rid].append(key)
    return out


def commitment_links(session: Session) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """(recommendation ids, supporting ministry ids) of every commitment."""
    recs: dict[int, set[int]] = defaultdict(set)
    support: dict[int, set[int]] = defaultdict(set)
    for cid, rid in session.exec(
        select(CommitmentRecommendation.commitment_id, CommitmentRecommendation.recommendation_id)
    ).all():
        recs[cid].add(rid)
    for cid, mid in session.exec(
        select(CommitmentSupport.commitment_id, CommitmentSupport.ministry_id)
    ).all():
        support[cid].add(mid)
    return recs, support


def users_by_email(session: Session, emails: Iterable[str]) -> dict[str, User]:
    wanted = sorted(set(emails))
    if not wanted:
        return {}
    rows = session.exec(select(User).where(col(User.email).in_(wanted))).all()
    return {u.email: u for u in rows}


def ministries_of_users(session: Session, user_ids: Iterable[int]) -> dict[int, set[int]]:
    ids = sorted(set(user_ids))
    out: dict[int, set[int]] = defaultdict(set)
    if ids:
        stmt = select(UserMinistry.user_id, UserMinistry.ministry_id).where(
            col(UserMinistry.user_id).in_(ids)
        )
        for uid, mid in session.exec(stmt).all():
            out[uid].add(mid)
    return out


def updates_of(session: Session, commitment_ids: Iterable[int]) -> list[StatusUpdate]:
    ids = sorted(set(commitment_ids))
    if not ids:
        return []
    stmt = select(StatusUpdate).where(col(StatusUpdate.commitment_id).in_(ids))
    return list(session.exec(stmt).all())


def assessments_of(session: Session, commitment_ids: Iterable[int]) -> list[Assessment]:
    ids = sorted(set(commitment_ids))
    if not ids:
        return []
    stmt = select(Assessment).where(col(Assessment.commitment_id).in_(ids))
    return list(session.exec(stmt).all())


class StatusUpdateRow(NamedTuple):
    """A status update with the codes, email and replied-to time a file names."""

    update: StatusUpdate
    commitment_code: str
    ministry_code: str
    reported_by_email: str
    in_reply_to: datetime | None


class AssessmentRow(NamedTuple):
    """An assessment with the commitment code and assessor email a file names."""

    assessment: Assessment
    commitment_code: str
    assessed_by_email: str


def status_update_rows(session: Session) -> Iterator[StatusUpdateRow]:
    """Every status update, oldest first, with what a file names it by."""
    replied = aliased(Assessment)
    stmt = (
        sa_select(
            StatusUpdate,
            col(Commitment.code),
            col(Ministry.code),
            col(User.email),
            col(replied.assessed_at),
        )
        .join(Commitment, col(Commitment.id) == col(StatusUpdate.commitment_id))
        .join(Ministry, col(Ministry.id) == col(StatusUpdate.ministry_id))
        .join(User, col(User.id) == col(StatusUpdate.reported_by))
        .outerjoin(replied, col(replied.id) == col(StatusUpdate.in_reply_to_assessment_id))
        .order_by(col(StatusUpdate.reported_at), col(StatusUpdate.id))
    )
    for update, commitment_code, ministry_code, email, reply_at in session.execute(stmt):
        yield StatusUpdateRow(update, commitment_code, ministry_code, email, reply_at)


def assessment_rows(session: Session) -> Iterator[AssessmentRow]:
    """Every assessment, oldest first, with what a file names it by."""
    stmt = (
        select(Assessment, Commitment.code, User.email)
        .join(Commitment, col(Commitment.id) == col(Assessment.commitment_id))
        .join(User, col(User.id) == col(Assessment.assessed_by))
        .order_by(col(Assessment.assessed_at), col(Assessment.id))
    )
    for assessment, commitment_code, email in session.exec(stmt):
        yield AssessmentRow(assessment, commitment_code, email)
