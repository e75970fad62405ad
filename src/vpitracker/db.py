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

from sqlalchemy import Engine, Executable, UpdateBase, create_engine, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
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


# A statement and its bound values, to run as ``session.execute(statement, values)``.
Call = tuple[Executable, Mapping[str, Any]]


def _together_calls(session: Session, writes: Sequence[Bound]) -> list[Call]:
    """``write_together``'s statements with their values, in order."""
    if not writes:
        return []
    dialect = session.get_bind().dialect.name
    statements = _built_together(dialect, tuple(w.build for w in writes))
    params = [{f"p{i}_{k}": v for k, v in w.values.items()} for i, w in enumerate(writes)]
    if len(statements) == 1:
        return [(statements[0], {k: v for p in params for k, v in p.items()})]
    return list(zip(statements, params, strict=True))


def write_together(session: Session, writes: Sequence[Bound]) -> None:
    """Run writes that do not read each other's rows: one statement on PostgreSQL (see
    ``together``), built once per shape; in order elsewhere."""
    for statement, values in _together_calls(session, writes):
        session.execute(statement, values)


# The writes queued to run with the transaction's COMMIT (``at_commit``): the session's
# transaction they belong to, and the calls in order.
_AT_COMMIT = "vpi_at_commit"


def at_commit(session: Session, call: Call, writes: Sequence[Bound] = ()) -> None:
    """Queue ``call`` and then ``writes`` to run when the transaction commits.

    They run after everything else the transaction writes (the session is flushed
    first), in the order queued. On PostgreSQL, when the session's transaction is the
    connection's own, they are sent with the COMMIT as one message (``_send_with_commit``):
    whatever lock they take is held for no round trip of the client's. ``run_queued``
    runs them at once instead (a caller that must see their rows). A rollback drops them.
    """
    session.connection()  # the transaction begun, so the queue can belong to it
    transaction = session.get_transaction()
    owner, queued = session.info.get(_AT_COMMIT, (None, []))
    if owner is not transaction:
        queued = []
    session.info[_AT_COMMIT] = (transaction, [*queued, call, *_together_calls(session, writes)])


def _take_queued(session: Session) -> list[Call]:
    owner, queued = session.info.pop(_AT_COMMIT, (None, []))
    calls: list[Call] = queued
    return calls if owner is not None and owner is session.get_transaction() else []


def run_queued(session: Session) -> None:
    """Run the writes queued for the commit now, in the transaction, in order."""
    for statement, values in _take_queued(session):
        session.execute(statement, values)


@event.listens_for(Session, "before_commit")
def _queued_before_commit(session: Session) -> None:
    """A commit that is not ``_commit``'s (a bare ``session.commit()``) still runs what
    the transaction queued, before it: a queued audit append is never dropped."""
    run_queued(session)


# A bound value's driver-side conversion (a TypeDecorator's, psycopg's JSON).
Processor = Callable[[Any], Any]


@lru_cache(maxsize=256)
def _compiled(
    dialect: Dialect, statement: ClauseElement
) -> tuple[SQLCompiler, dict[str, Processor]]:
    """``statement`` compiled once (queued statements are built once per shape) and
    the conversions of its bound values."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a statement queued for the commit cannot expand its parameters")
    processors: dict[str, Processor] = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return compiled, processors


def _literal_sql(connection: Connection, statement: Executable, values: Mapping[str, Any]) -> str:
    """``statement`` with ``values`` written in as literals, quoted by psycopg itself
    (its client-side binding), and each ``%`` doubled for a driver-level execute."""
    from psycopg import ClientCursor

    assert isinstance(statement, ClauseElement)
    compiled, processors = _compiled(connection.dialect, statement)
    params = dict(compiled.construct_params(dict(values)) or {})
    for name, process in processors.items():
        if name in params:
            params[name] = process(params[name])
    driver = connection.connection.driver_connection
    assert driver is not None
    with ClientCursor(driver) as cursor:
        return cursor.mogrify(compiled.string, params).replace("%", "%%")


def _send_with_commit(connection: Connection, calls: Sequence[Call]) -> Any:
    """Run ``calls`` and COMMIT in one simple-query message; the first call's row.

    The server runs the statements in order, each with its own snapshot, and stops at
    the first error (then nothing commits). Afterwards the driver's connection is idle:
    SQLAlchemy's own commit of it sends nothing.
    """
    sql = ";\n".join([*(_literal_sql(connection, s, v) for s, v in calls), "COMMIT"])
    return connection.exec_driver_sql(sql).first()


def _commits_itself(session: Session) -> bool:
    """Whether the session's transaction is its connection's own, to end with a COMMIT
    in SQL (not one joined from outside, as tests join theirs, nor a SAVEPOINT)."""
    if session.get_bind().dialect.name != "postgresql" or session.in_nested_transaction():
        return False
    connection = session.connection()
    return not connection.in_nested_transaction()


def _commit(session: Session) -> None:
    try:
        queued = _take_queued(session)
        if queued:
            session.flush()  # everything else the transaction writes, before the queue
            if _commits_itself(session):
                _send_with_commit(session.connection(), queued)
            else:
                for statement, values in queued:
                    session.execute(statement, values)
        session.commit()
    except DBAPIError as exc:
        raise database_problem(exc) from exc


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
