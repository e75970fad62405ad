"""Engine factory and the request-scoped session that owns the transaction.

SQLite runs in WAL mode with foreign keys on. pysqlite's own transaction handling
is switched off so SQLAlchemy emits ``BEGIN`` itself (the documented recipe):
that makes SAVEPOINTs work and lets write transactions start with
``BEGIN IMMEDIATE`` so SQLite's single writer serializes them from the start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, UpdateBase, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlmodel import Session

from vpitracker.config import DEFAULT_LOCK_TIMEOUT_SECONDS, get_settings
from vpitracker.errors import AppError, Conflict, NotSaved, ReplicaBusy, ServiceUnavailable
from vpitracker.models.base import utc_sessions

WRITE_OPTIONS = {"vpi_write": True}
logger = logging.getLogger("vpitracker")


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(
    url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS, **kwargs: Any
) -> Engine:
    """``lock_timeout``: seconds a statement waits for a lock (SQLite's write lock, a
    PostgreSQL row, table or advisory lock) before it fails; the client gets 503."""
    url = normalize_url(url)
    milliseconds = max(1, round(lock_timeout * 1000))
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": lock_timeout},
            **kwargs,
        )
        _install_sqlite_recipe(engine, milliseconds)
        return engine
    # TimeZone=UTC: psycopg returns timestamps as aware datetimes in UTC, which is what
    # UTCDateTime would make of them, so it need not touch each value. Every statement
    # names its time zone where it turns an instant into a day or a month.
    connect_args = {"options": f"-c lock_timeout={milliseconds} -c TimeZone=UTC"}
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    utc_sessions(engine.dialect)
    _ping_after_idle(engine)
    return engine


# A pooled PostgreSQL connection that sat idle this long is pinged before it is used
# again, and replaced if the server dropped it (a restart, an idle timeout). One in
# steady use is not: a ping on every checkout (``pool_pre_ping``) is a round trip per
# request. A connection dropped within this time fails its request once, and the pool
# then replaces every connection opened before the drop (SQLAlchemy's disconnect rule).
IDLE_PING_SECONDS = 2.0
_IDLE_SINCE = "vpi_idle_since"


def _ping_after_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out another (or a new one).
            raise DisconnectionError("the pooled connection was dropped") from exc


def _install_sqlite_recipe(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("vpi_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def together(dialect: str, statements: Sequence[UpdateBase]) -> list[UpdateBase]:
    """Writes that do not read each other's rows as one statement on PostgreSQL, else as
    they are, to run in order.

    On PostgreSQL the first is the statement and the others its data-modifying
    ``WITH`` parts: every part runs exactly once and the whole is one round trip.
    """
    first, *rest = statements
    if rest and dialect == "postgresql":
        return [first.add_cte(*(s.cte(f"w{i}") for i, s in enumerate(rest)))]
    return list(statements)


# Builds a write's statement for a dialect with its bound values' names prefixed.
Builder = Callable[[str, str], UpdateBase]


@dataclass(frozen=True)
class Bound:
    """A write whose statement is built once per shape: ``build(dialect, prefix)`` makes
    it with each bound value named ``prefix`` and a key of ``values``, this write's
    values. ``build`` must be one module-level function per shape (it keys the cache)."""

    build: Builder
    values: Mapping[str, Any]


@lru_cache(maxsize=512)
def _built_together(dialect: str, builds: tuple[Builder, ...]) -> list[UpdateBase]:
    return together(dialect, [build(dialect, f"p{i}_") for i, build in enumerate(builds)])


def write_together(session: Session, writes: Sequence[Bound]) -> None:
    """Run writes that do not read each other's rows: one statement on PostgreSQL (see
    ``together``), built once per shape; in order elsewhere."""
    if not writes:
        return
    dialect = session.get_bind().dialect.name
    statements = _built_together(dialect, tuple(w.build for w in writes))
    params = [{f"p{i}_{k}": v for k, v in w.values.items()} for i, w in enumerate(writes)]
    if len(statements) == 1:
        session.execute(statements[0], {k: v for p in params for k, v in p.items()})
        return
    for statement, values in zip(statements, params, strict=True):
        session.execute(statement, values)


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(settings.database_url, lock_timeout=settings.database_lock_timeout_seconds)


def open_session(engine: Engine, *, write: bool) -> Session:
    bind = engine.execution_options(**WRITE_OPTIONS) if write else engine
    return Session(bind, expire_on_commit=False)


# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected (retry: 409);
# lock_not_available, query_canceled by a timeout (busy: 503).
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_BUSY_SQLSTATES = frozenset({"55P03", "57014"})


# A hot standby cancels a query that conflicts with what it replays ("canceling
# statement due to conflict with recovery": 40001, 40P01 for a buffer-pin deadlock).
_RECOVERY_CONFLICT = "conflict with recovery"


def database_problem(exc: DBAPIError, *, replica_read: bool = False) -> AppError:
    """What a client is told when the database refused a statement or the commit.

    ``replica_read``: the request read the read replica, where 40001 and 40P01 mean a
    recovery conflict (the replica was busy: 503), not a concurrent write (409).
    """
    sqlstate = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).lower()
    if _RECOVERY_CONFLICT in message or (replica_read and sqlstate in _RETRY_SQLSTATES):
        return ReplicaBusy(
            "The read replica stopped this read while replaying changes from the primary; "
            "nothing was changed. Retry shortly.",
            retry_after=1,
        )
    if replica_read and isinstance(exc, OperationalError) and sqlstate is None:
        return ReplicaBusy("The read replica does not answer; nothing was changed. Retry shortly.")
    if sqlstate in _RETRY_SQLSTATES:
        return Conflict("A concurrent change conflicted with this one; nothing was saved. Retry.")
    if sqlstate in _BUSY_SQLSTATES or "database is locked" in message or "busy" in message:
        return ServiceUnavailable("The database is busy; nothing was saved. Retry shortly.")
    logger.error("database refused the request", exc_info=exc)
    return NotSaved("The database refused the change; it was not saved.")


def _commit(session: Session) -> None:
    try:
        session.commit()
    except DBAPIError as exc:
        raise database_problem(exc) from exc


def end_read(session: Session) -> None:
    """End a read transaction early (before long work that needs no database).

    Whatever it wrote on the way (an API key's last use) is committed; the
    connection goes back to the pool. The session starts a new transaction if it
    is used again.
    """
    _commit(session)


def settle(session: Session, error: BaseException | None) -> None:
    """End the transaction: commit on success, roll back on ``error``.

    An ``AppError`` that keeps its writes (``persist``, such as a failed sign-in's
    throttle record) commits too. The only place that commits (with ``end_read``).
    """
    if error is not None and not (isinstance(error, AppError) and error.persist):
        session.rollback()
        return
    try:
        _commit(session)
    except BaseException:
        session.rollback()
        raise


def transaction(session: Session) -> Iterator[Session]:
    """Commit on success, roll back on error (``settle``)."""
    try:
        yield session
    except BaseException as exc:
        settle(session, exc)
        raise
    settle(session, None)


def session_scope(engine: Engine, *, write: bool) -> Iterator[Session]:
    with open_session(engine, write=write) as session:
        yield from transaction(session)


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """The same transaction rules outside a request (CLI, demo loader)."""
    with open_session(engine, write=write) as session:
        yield from transaction(session)
