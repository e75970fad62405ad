"""Report queries: one statement for the rows, one per joined list."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    StatusUpdate,
    table_of,
)


def commitment_rows(session: Session, counted: Any) -> list[Any]:
    m = table_of(Ministry)
    stmt = (
        select(counted, m.c.code.label("lead_code"), m.c.name.label("lead_name"))
        .join(m, m.c.id == counted.c.lead_ministry_id)
        .order_by(counted.c.code, counted.c.id)
    )
    return list(session.execute(stmt).all())


def supporting_codes(session: Session, counted: Any) -> dict[int, list[str]]:
    cs, m = table_of(CommitmentSupport), table_of(Ministry)
    stmt = (
        select(cs.c.commitment_id, m.c.code)
        .join(m, m.c.id == cs.c.ministry_id)
        .join(counted, counted.c.id == cs.c.commitment_id)
        .order_by(m.c.code)
    )
    return _grouped(session.execute(stmt).all())


def recommendation_codes(session: Session, counted: Any) -> dict[int, list[str]]:
    cr, r = table_of(CommitmentRecommendation), table_of(Recommendation)
    stmt = (
        select(cr.c.commitment_id, r.c.code)
        .join(r, r.c.id == cr.c.recommendation_id)
        .join(counted, counted.c.id == cr.c.commitment_id)
        .order_by(r.c.code)
    )
    return _grouped(session.execute(stmt).all())


def recommendation_rows(session: Session, recs: Any) -> list[Any]:
    return list(session.execute(select(recs).order_by(recs.c.code, recs.c.id)).all())


def provisions_of(session: Session, recs: Any) -> dict[int, list[tuple[str, int | None, str]]]:
    rp, p = table_of(RecommendationProvision), table_of(Provision)
    stmt = (
        select(rp.c.recommendation_id, p.c.key, p.c.cluster, p.c.instrument)
        .join(p, p.c.key == rp.c.provision_key)
        .join(recs, recs.c.id == rp.c.recommendation_id)
        .order_by(p.c.key)
    )
    out: dict[int, list[tuple[str, int | None, str]]] = defaultdict(list)
    for rid, key, cluster, instrument in session.execute(stmt).all():
        out[rid].append((key, cluster, instrument))
    return out


def commitment_codes_of(session: Session, recs: Any, counted: Any) -> dict[int, list[str]]:
    cr = table_of(CommitmentRecommendation)
    stmt = (
        select(cr.c.recommendation_id, counted.c.code)
        .join(counted, counted.c.id == cr.c.commitment_id)
        .join(recs, recs.c.id == cr.c.recommendation_id)
        .order_by(counted.c.code)
    )
    return _grouped(session.execute(stmt).all())


def status_history(
    session: Session,
    *,
    cutoff: datetime | None,
    ministry_id: int | None,
    commitment_id: int | None,
) -> list[Any]:
    su, c, m = table_of(StatusUpdate), table_of(Commitment), table_of(Ministry)
    stmt = (
        select(su, c.c.code.label("commitment_code"), m.c.code.label("ministry_code"))
        .join(c, c.c.id == su.c.commitment_id)
        .join(m, m.c.id == su.c.ministry_id)
        .order_by(su.c.reported_at, su.c.id)
    )
    if cutoff is not None:
        stmt = stmt.where(su.c.reported_at < cutoff)
    if ministry_id is not None:
        stmt = stmt.where(su.c.ministry_id == ministry_id)
    if commitment_id is not None:
        stmt = stmt.where(su.c.commitment_id == commitment_id)
    return list(session.execute(stmt).all())


def _grouped(rows: Any) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for key, value in rows:
        out[key].append(value)
    return out
