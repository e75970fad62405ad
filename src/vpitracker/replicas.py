"""Which reads a PostgreSQL streaming replica serves (``VPI_READ_DATABASE_URL``).

Dashboard reads — progress, reports, the collection lists and the pages that show
them — may lag the primary by the replica's replay delay (README "Scale-out").
Everything else reads the primary: every write and the reads inside it; single
records (so an ``ETag`` for ``If-Match``, and a read just after one's own write,
are current); credentials (a revoked key or an ended session stops at once, and
an API key's ``last_used_at`` is written there); the audit chain and its
verification; the officer's desk, which answers what they just did.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine, text
from starlette.requests import Request
from starlette.types import Scope

logger = logging.getLogger("vpitracker")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Route templates, exactly as the routers declare them (a test checks each exists).
REPLICA_ROUTES = frozenset(
    {
        "/v1/progress/summary",
        "/v1/progress/ministries",
        "/v1/progress/clusters",
        "/v1/progress/instruments",
        "/v1/progress/timeline",
        "/v1/reports/commitments",
        "/v1/reports/recommendations",
        "/v1/reports/status-history",
        "/v1/commitments",
        "/v1/commitments/{commitment_id}/status-updates",
        "/v1/commitments/{commitment_id}/assessments",
        "/v1/status-updates",
        "/v1/ministries",
        "/v1/recommendations",
        "/v1/provisions",
        # pages
        "/",
        "/commitments",
        "/ministries/{ministry_id}",
        "/reports/{name}.csv",
    }
)


def reads_replica(request: Request) -> bool:
    """True when this request read a configured replica (not the primary)."""
    state = request.app.state
    return serves(request.scope) and state.read_engine is not state.engine


def serves(scope: Scope) -> bool:
    """True when this request is a dashboard read that a replica may answer."""
    route = scope.get("route")
    return scope.get("method") in READ_METHODS and getattr(route, "path", None) in REPLICA_ROUTES


def primary_position(conn: Connection) -> str:
    """The primary's current WAL position, to measure a replica's lag against."""
    return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())


_HEALTH = text(
    """
    SELECT pg_is_in_recovery(),
           CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END,
           CASE WHEN pg_is_in_recovery()
                THEN pg_wal_lsn_diff(CAST(:primary AS pg_lsn), pg_last_wal_replay_lsn()) END,
           EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    """
)


def health(replica: Engine, primary_lsn: str) -> dict[str, Any]:
    """The read replica as ``/readyz`` reports it; it never fails readiness.

    ``status``: ``ok`` (replaying), ``paused`` (replay paused), ``not_in_recovery`` (the
    URL names a primary, not a standby) or ``unavailable``. ``lag_bytes``: WAL the
    primary has written that the replica has not replayed. ``lag_seconds``: 0 when
    nothing is left to replay, else the age of the last transaction it replayed.
    """
    try:
        with replica.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 2000"))
            in_recovery, paused, behind, age = conn.execute(_HEALTH, {"primary": primary_lsn}).one()
    except Exception:
        logger.warning("the read replica does not answer", exc_info=True)
        return {"status": "unavailable", "detail": "the read replica does not answer"}
    if not in_recovery:
        return {"status": "not_in_recovery"}
    lag_bytes = max(0, int(behind))
    lag_seconds = 0.0 if lag_bytes == 0 or age is None else round(max(0.0, float(age)), 3)
    return {
        "status": "paused" if paused else "ok",
        "lag_bytes": lag_bytes,
        "lag_seconds": lag_seconds,
    }
