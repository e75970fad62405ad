"""Flat reports for spreadsheets and BI tools, streamed row by row from the database.

A report is one statement plus how its cells are written; the rows go from the
database cursor to the client in batches, so a report of any size costs the
server one batch of memory. Each caller may run only a few at once: a report is
the most expensive read the API offers, and open to anonymous readers when
public read is on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam
from sqlalchemy.engine import Connection, CursorResult

from vpitracker.commitments import service as commitments_service
from vpitracker.csvout import LIST_SEPARATOR
from vpitracker.errors import Throttled
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters, RecommendationFilters
from vpitracker.kernel.state import ClockValues, clock_params
from vpitracker.recommendations import service as recommendations_service
from vpitracker.reports import repository, sqltext
from vpitracker.reports.schemas import (
    CommitmentReportRow,
    RecommendationReportRow,
    StatusHistoryRow,
)

# Rows fetched from the cursor and written per chunk: large enough that the
# per-chunk costs vanish, small enough that a chunk is well under a megabyte.
BATCH_ROWS = 1000
FIRST_BATCH_ROWS = 100
RETRY_AFTER_SECONDS = 5

Opener = Callable[[], AbstractContextManager[Connection]]
Fix = Callable[[Any], Any]


def _flag(value: Any) -> bool:
    # SQLite answers the derived flags as 0/1.
    return bool(value)


def _urls(evidence: Any) -> str:
    return LIST_SEPARATOR.join(str(e.get("url", "")) for e in evidence or [])


# The first batch's size and the rest's offset, bound: the written statements are
# built once per shape too.
_FIRST_ROWS = bindparam("vpi_first_rows", type_=Integer)


@dataclass(frozen=True)
class Report:
    """What one report request will send: its columns, its statement, its cell fixes.

    Each report's statements are built once per shape (which filters are set, now or as
    of a day), every value a bound parameter; ``params`` holds this request's values
    (``bound``), the clock's included.
    """

    name: str
    columns: tuple[str, ...]
    statement: Select[*tuple[Any, ...]]
    # Per column, a function applied to the database value (None: taken as it is).
    fixes: tuple[Fix | None, ...]
    # Per column, the type its row model declares (how PostgreSQL writes the cell).
    kinds: tuple[sqltext.Kind, ...] = ()
    # The columns the rows are sorted by (the statement's ORDER BY).
    order: tuple[str, ...] = ()
    # The database the statement was built for ('' when not known: rows only for the
    # encoders here, ``fixes`` applied).
    dialect: str = ""
    # PostgreSQL: the same rows in the same order by a statement cheaper for the whole
    # report but slow to its first row (lists aggregated once, then sorted). ``texts``
    # then reads the first batch from ``statement`` and the rows after it from this
    # one, both in one snapshot.
    rest: Select[*tuple[Any, ...]] | None = None
    # The values of the statements' bound parameters for this request.
    params: Mapping[str, Any] = field(default_factory=dict)

    def bound(self, params: Mapping[str, Any]) -> Report:
        """This report (of one shape) with one request's values."""
        return replace(self, params=params)

    @property
    def written_by_database(self) -> bool:
        """Whether ``texts`` can have the database write the rows (``sqltext``): every
        cell is the database value as its type's rule takes it."""
        return self.dialect in sqltext.DIALECTS and bool(self.kinds)

    def batches(self, connection: Connection) -> Generator[Sequence[Sequence[Any]]]:
        """The report's rows as the database gave them (``fixes`` not yet applied),
        ``BATCH_ROWS`` at a time, from a cursor."""
        return _partitions(_stream(connection, self.statement, self.params))

    def texts(self, connection: Connection, *, csv: bool) -> Generator[list[str]]:
        """Each row already written by the database as its JSON object or CSV record
        (``sqltext``; only when ``written_by_database``), ``BATCH_ROWS`` texts at a
        time, from a cursor."""

        def written(statement: Select[*tuple[Any, ...]], part: str) -> Select[str]:
            return _written(
                statement, self.columns, self.kinds, self.order, self.dialect, csv, part
            )

        rest = self.rest if self.dialect == "postgresql" else None
        if rest is not None and not connection.in_transaction():
            # Two statements, one snapshot: no row is missed or read twice between them.
            # (A connection already in a transaction keeps the isolation its owner chose.)
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if self.dialect == "postgresql":
            # The per-row plan's cost estimate would have it JIT-compiled, which takes
            # longer than the whole report on a quiet machine (measured at M).
            connection.exec_driver_sql("SET LOCAL jit = off")
        if rest is not None:
            return _head_and_rest(
                connection,
                written(self.statement, "head"),
                written(rest, "rest"),
                {**self.params, _FIRST_ROWS.key: FIRST_BATCH_ROWS},
            )
        return _texts(_stream(connection, written(self.statement, ""), self.params))


@lru_cache(maxsize=64)
def _written(
    statement: Select[*tuple[Any, ...]],
    columns: tuple[str, ...],
    kinds: tuple[sqltext.Kind, ...],
    order: tuple[str, ...],
    dialect: str,
    csv: bool,
    part: str,
) -> Select[str]:
    """``statement``'s rows written as JSON or CSV texts (``sqltext``); ``part`` "head":
    its first batch, "rest": the rows after it, "": all. Kept per statement, so a report
    built once per shape is written once per shape and format (and its SQLAlchemy cache
    key, kept on the statement, is computed once)."""
    rows = (sqltext.csv_rows if csv else sqltext.json_rows)(
        statement, columns, kinds, order, dialect
    )
    if part == "head":
        return rows.limit(_FIRST_ROWS)
    if part == "rest":
        return rows.offset(_FIRST_ROWS)
    return rows


def _stream(
    connection: Connection, statement: Select[Any], params: Mapping[str, Any]
) -> CursorResult[Any]:
    return connection.execute(
        statement, params, execution_options={"stream_results": True, "yield_per": BATCH_ROWS}
    )


def _partitions(result: CursorResult[Any]) -> Generator[Sequence[Sequence[Any]]]:
    try:
        yield from result.partitions()
    finally:
        result.close()


def _texts(result: CursorResult[Any]) -> Generator[list[str]]:
    try:
        texts = result.scalars()
        # A short first batch: the response starts as soon as the first rows are out.
        yield list(texts.fetchmany(FIRST_BATCH_ROWS))
        for batch in texts.partitions():
            yield list(batch)
    finally:
        result.close()


def _head_and_rest(
    connection: Connection, head: Select[str], rest: Select[str], params: Mapping[str, Any]
) -> Generator[list[str]]:
    """The first batch from ``head``, then the rows after it from ``rest`` (batched
    from a cursor), when ``head`` filled its batch."""
    first = list(connection.execute(head, params).scalars())
    yield first
    if len(first) == params[_FIRST_ROWS.key]:
        result = _stream(connection, rest, params)
        try:
            for batch in result.scalars().partitions():
                yield list(batch)
        finally:
            result.close()


def _columns(model: type[Any]) -> tuple[str, ...]:
    return tuple(model.model_fields)


def _fixes(columns: Sequence[str], **by_name: Fix) -> tuple[Fix | None, ...]:
    return tuple(by_name.get(c) for c in columns)


def commitments(dialect: str, clock: Clock, filters: CommitmentFilters) -> Report:
    """One row per commitment with its derived state and ministry names."""
    shaped = commitments_service.state_shape(clock, filters)
    if shaped is None:
        return _commitments(dialect, commitments_service.state_query(clock, filters))
    shape, params = shaped
    return _commitments_of_shape(dialect, shape).bound(params)


@lru_cache(maxsize=128)
def _commitments_of_shape(dialect: str, shape: commitments_service.FilterShape) -> Report:
    return _commitments(dialect, commitments_service.bound_state_query(shape))


def _commitments(dialect: str, counted_query: Select[*tuple[Any, ...]]) -> Report:
    counted = counted_query.subquery("counted")
    columns = _columns(CommitmentReportRow)
    return Report(
        "commitments",
        columns,
        repository.commitments(counted, dialect),
        # PostgreSQL answers the flags as booleans already.
        _fixes(columns, contested=_flag, overdue=_flag, stale=_flag)
        if dialect == "sqlite"
        else _fixes(columns),
        sqltext.kinds(CommitmentReportRow),
        ("code", "id"),
        dialect,
    )


def recommendations(dialect: str, clock: Clock) -> Report:
    """One row per recommendation with its implementation state."""
    return _recommendations(dialect, clock.as_of is not None).bound(clock_params(clock))


@lru_cache(maxsize=8)
def _recommendations(dialect: str, as_of: bool) -> Report:
    clock = ClockValues.bound(as_of=as_of)
    commitments_then = commitments_service.bound_commitments_query(
        commitments_service.FilterShape(frozenset(), False, as_of)
    )

    def statement(*, per_row: bool) -> repository.RecommendationReportSelect:
        recs = recommendations_service.implementation_query(
            clock, RecommendationFilters(), per_row=per_row
        ).subquery("recs")
        return repository.recommendations(recs, commitments_then, dialect, per_row=per_row)

    columns = _columns(RecommendationReportRow)
    postgresql = dialect == "postgresql"
    return Report(
        "recommendations",
        columns,
        # PostgreSQL: the first batch counted and listed as each row is read, so it
        # leaves before the others are counted; the rest from one aggregate of each
        # list, joined, which is about three times cheaper for the whole report
        # (SQLite: its one statement, the aggregates joined).
        statement(per_row=postgresql),
        _fixes(columns),
        sqltext.kinds(RecommendationReportRow),
        ("code", "id"),
        dialect,
        rest=statement(per_row=False) if postgresql else None,
    )


def status_history(
    clock: Clock,
    *,
    ministry_id: int | None = None,
    commitment_id: int | None = None,
    dialect: str = "",
) -> Report:
    """One row per status update, oldest first (``dialect``: the database's, when known)."""
    values = {
        "vpi_cutoff": clock.cutoff,
        "vpi_ministry_id": ministry_id,
        "vpi_commitment_id": commitment_id,
    }
    params = {name: value for name, value in values.items() if value is not None}
    return _status_history(
        dialect, clock.cutoff is not None, ministry_id is not None, commitment_id is not None
    ).bound(params)


@lru_cache(maxsize=32)
def _status_history(dialect: str, as_of: bool, by_ministry: bool, by_commitment: bool) -> Report:
    columns = _columns(StatusHistoryRow)
    # A database the rows are written by joins the evidence URLs itself.
    urls_in_sql = dialect in sqltext.DIALECTS
    return Report(
        "status-history",
        columns,
        repository.status_history(
            cutoff=ClockValues.bound(as_of=True).cutoff if as_of else None,
            ministry_id=bindparam("vpi_ministry_id") if by_ministry else None,
            commitment_id=bindparam("vpi_commitment_id") if by_commitment else None,
            dialect=dialect if urls_in_sql else "",
        ),
        _fixes(columns) if urls_in_sql else _fixes(columns, evidence_urls=_urls),
        sqltext.kinds(StatusHistoryRow),
        ("reported_at", "id"),
        dialect,
    )


class ReportSlots:
    """How many reports each caller is streaming in this process, capped."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    def acquire(self, caller: str) -> Callable[[], None]:
        """Take a slot for ``caller`` or refuse with 429; returns the release (idempotent)."""
        with self._lock:
            running = self._running.get(caller, 0)
            if running >= self.per_caller:
                raise Throttled(
                    "%(running)s reports are already running for you; wait for one to finish",
                    retry_after=RETRY_AFTER_SECONDS,
                    running=running,
                )
            self._running[caller] = running + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                left = self._running[caller] - 1
                if left:
                    self._running[caller] = left
                else:
                    del self._running[caller]

        return release

    def running(self, caller: str) -> int:
        with self._lock:
            return self._running.get(caller, 0)
