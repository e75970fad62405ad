"""Queries the outbox needs to queue an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, insert, select
from sqlmodel import Session, col

from vpitracker.models import AuditEvent, CommitmentSupport, OutboxEvent


def chain_head(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(col(AuditEvent.seq), col(AuditEvent.hash))
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else None


def supporting(session: Session, commitment_id: int) -> list[int]:
    stmt = select(col(CommitmentSupport.ministry_id)).where(
        col(CommitmentSupport.commitment_id) == commitment_id
    )
    return list(session.execute(stmt).scalars())


def insert_rows(rows: list[dict[str, Any]]) -> Insert:
    """One INSERT, so the rows' ids follow their order (the order they are delivered in).

    A single row as a single-row INSERT: it has a compiled-cache key, which a multi-row
    VALUES has not (the audit append's statement would be compiled anew on every post;
    only the few events that raise two types, such as a dispute, still are).
    """
    return insert(OutboxEvent).values(rows[0] if len(rows) == 1 else rows)
