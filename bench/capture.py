"""Capture the SQL one request runs, in-process, and replay it through the bare driver.

The app is built with ``create_app(settings, engine)`` on an engine that carries a
``before_cursor_execute`` listener; a request made through ``TestClient`` records
every (statement, parameters) pair the driver receives, exactly as sent (already
compiled and bind-processed). Replaying runs those statements on a plain
``sqlite3`` / ``psycopg`` connection, fetches every row, and commits as the app's
session does at the end of a request.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event

from vpitracker.config import Environment, Settings
from vpitracker.db import make_engine
from vpitracker.main import create_app


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any
    many: bool

    def snippet(self, width: int = 240) -> str:
        flat = re.sub(r"\s+", " ", self.sql).strip()
        return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass
class Captured:
    status: int
    body_bytes: int
    statements: list[Statement] = field(default_factory=list)


def frozen(value: Any) -> Any:
    """A copy of bound parameters that later changes to the originals cannot reach.

    SQLite's driver gets BLOBs as ``memoryview`` (a Merkle node's hash on every
    audited POST), which ``copy.deepcopy`` refuses: those become ``bytes``, which
    the drivers bind the same way.
    """
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, dict):
        return {k: frozen(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(frozen(v) for v in value)
    return copy.deepcopy(value)


class Recorder:
    """Keeps what the driver is asked to run while ``recording()`` is active."""

    def __init__(self, engine: Engine) -> None:
        self._active = False
        self.statements: list[Statement] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        if self._active:
            self.statements.append(Statement(statement, frozen(parameters), executemany))

    @contextmanager
    def recording(self) -> Iterator[list[Statement]]:
        self.statements = []
        self._active = True
        try:
            yield self.statements
        finally:
            self._active = False


class InProcessApp:
    """The same application as the live server, in this process, on a recorded engine."""

    def __init__(self, database_url: str, settings_env: dict[str, str]) -> None:
        self.engine = make_engine(database_url)
        settings = Settings(
            env=Environment.test,
            secret_key=settings_env["VPI_SECRET_KEY"],
            database_url=database_url,
            access_token_expire_minutes=int(settings_env["VPI_ACCESS_TOKEN_EXPIRE_MINUTES"]),
        )
        self.app = create_app(settings, self.engine)
        # The live server logs every request; this in-process twin only needs to be quiet.
        logging.getLogger("vpitracker").setLevel(logging.WARNING)
        self.recorder = Recorder(self.engine)
        with warnings.catch_warnings():
            # Starlette's notice about its httpx-based TestClient is not about this harness.
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient

            # A failing request is recorded with its status, not raised: the run goes on.
            self.client = TestClient(self.app, raise_server_exceptions=False)

    def paths(self) -> dict[str, Any]:
        paths: dict[str, Any] = self.app.openapi()["paths"]
        return paths

    def capture(
        self, method: str, path: str, headers: dict[str, str], body: Any = None, *, warm: bool
    ) -> Captured:
        """Run the request (once unrecorded first when ``warm``), recording the second run."""
        if warm:
            self.client.request(method, path, headers=headers, json=body)
        with self.recorder.recording() as statements:
            response = self.client.request(method, path, headers=headers, json=body)
        return Captured(response.status_code, len(response.content), list(statements))

    def close(self) -> None:
        self.client.close()
        self.engine.dispose()


@dataclass
class Replay:
    seconds: float
    rows: int
    per_statement: list[float]


def replay(conn: Any, statements: list[Statement]) -> Replay:
    """Run the captured statements once on a raw DBAPI connection, fetching every row."""
    per: list[float] = []
    rows = 0
    started = time.perf_counter()
    cur = conn.cursor()
    for st in statements:
        t0 = time.perf_counter()
        # A streamed report reads on a second connection with its own BEGIN; on one
        # replay connection that is the same snapshot, already begun.
        if st.sql.lstrip().upper().startswith("BEGIN") and getattr(conn, "in_transaction", False):
            per.append(0.0)
            continue
        # Its isolation too (a report read in two statements): only a transaction's first
        # statement may set it, and here the caller's own statements came first.
        if st.sql.lstrip().upper().startswith("SET TRANSACTION") and _begun(conn):
            per.append(0.0)
            continue
        if st.many:
            cur.executemany(st.sql, st.params)
        else:
            cur.execute(st.sql, st.params)
        if cur.description is not None:
            rows += len(cur.fetchall())
        per.append(time.perf_counter() - t0)
    # The app's session commits at the end of every request; so does the replay.
    conn.commit()
    cur.close()
    return Replay(time.perf_counter() - started, rows, per)


def _begun(conn: Any) -> bool:
    """Whether the DBAPI connection is inside a transaction (psycopg or sqlite3)."""
    info = getattr(conn, "info", None)
    status = getattr(info, "transaction_status", None)
    if status is not None:
        return bool(status != TransactionStatus.IDLE)
    return bool(getattr(conn, "in_transaction", False))


PLAN_LINES = 200


def plan(conn: Any, statement: Statement, *, postgres: bool) -> list[str]:
    """The statement's plan: ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, the query plan
    on SQLite (which has no ANALYZE). Rolled back, so nothing of it stays."""
    cur = conn.cursor()
    try:
        if postgres:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params)
            lines = [str(r[0]) for r in cur.fetchall()]
        else:
            cur.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _unused, detail in cur.fetchall():
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node] - 1) + str(detail))
    finally:
        cur.close()
        conn.rollback()
    if len(lines) > PLAN_LINES:
        lines = [*lines[:PLAN_LINES], f"... ({len(lines) - PLAN_LINES} more lines)"]
    return lines
