"""Queries the outbox needs to queue an event."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, insert, select
from sqlmodel import Session, col

from vpitracker.db import Bound, Builder
from vpitracker.models import AuditEvent, CommitmentSupport, OutboxEvent, table_of


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


@cache
def _rows_write(n: int, keys: tuple[str, ...]) -> Builder:
    """The INSERT of ``n`` rows of these columns (see ``db.Bound``), one builder per shape."""

    def build(_dialect: str, prefix: str) -> Insert:
        table = table_of(OutboxEvent)
        rows = [
            {k: bindparam(f"{prefix}{j}_{k}", type_=table.c[k].type) for k in keys}
            for j in range(n)
        ]
        return insert(table).values(rows[0] if n == 1 else rows)

    return build


def insert_rows(rows: list[dict[str, Any]]) -> Bound:
    """One INSERT, so the rows' ids follow their order (the order they are delivered in).

    A single row as a single-row INSERT: it has a compiled-cache key, which a multi-row
    VALUES has not (the audit append's statement would be compiled anew on every post;
    only the few events that raise two types, such as a dispute, still are).
    """
    keys = tuple(rows[0])
    values = {f"{j}_{k}": row[k] for j, row in enumerate(rows) for k in keys}
    return Bound(_rows_write(len(rows), keys), values)
