"""On PostgreSQL and SQLite the database writes each report row's JSON object or CSV
record (vpitracker/reports/sqltext.py): the body must be byte for byte what the
encoders that came before wrote (tests/reports/reference_encoders.py) for the same
rows, awkward text included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import Engine, text

from tests.reports.reference_encoders import old_csv_chunks, old_json_chunks
from tests.reports.test_encoders import AWKWARD_TEXT, demo_database
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.reports import service
from vpitracker.reports.service import Report
from vpitracker.reports.streaming import _csv_header, text_chunks

# Stored text holds no NUL (the API refuses it; PostgreSQL text cannot hold one);
# every other awkward value goes in.
TEXTS = [t for t in AWKWARD_TEXT if "\x00" not in t]
EVIDENCE = json.dumps([{"url": 'https://example.org/?a=1,b="2"'}, {"url": "=x"}, {"note": 1}])
# Timestamps with and without microseconds: PostgreSQL's values, SQLite's stored text
# (SQLAlchemy writes the fraction; a text without one, as SQL's CURRENT_TIMESTAMP
# writes, is read too).
RETIMED = {
    "postgresql": "date_trunc('second', reported_at) "
    "+ CASE WHEN {key} % 2 = 0 THEN interval '0.000123 s' ELSE '0' END",
    "sqlite": "substr(reported_at, 1, 19) "
    "|| CASE {key} % 3 WHEN 0 THEN '.000123' WHEN 1 THEN '.000000' ELSE '' END",
}


@pytest.fixture(scope="module")
def awkward_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The demo data with awkward text in every text column a report shows."""
    with demo_database(tmp_path_factory.mktemp("sqltext")) as engine:
        dialect = engine.dialect.name
        n = len(TEXTS)
        with engine.begin() as conn:
            for table, columns in (
                ("commitment", ("title",)),
                ("ministry", ("name",)),
                ("recommendation", ("title", "source")),
                ("status_update", ("summary",)),
            ):
                ids = conn.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars().all()
                for i, id_ in enumerate(ids):
                    values = {c: TEXTS[(i + k) % n] for k, c in enumerate(columns)}
                    sets = ", ".join(f"{c} = :{c}" for c in columns)
                    conn.execute(
                        text(f"UPDATE {table} SET {sets} WHERE id = :id"), values | {"id": id_}
                    )
            # Codes are unique: an awkward start, then the id.
            for table in ("commitment", "ministry", "recommendation"):
                conn.execute(
                    text(
                        f"UPDATE {table} SET code = CASE id % 4 WHEN 0 THEN :a WHEN 1 THEN :b "
                        "WHEN 2 THEN :c ELSE :d END || CAST(id AS TEXT) WHERE id % 3 = 0"
                    ),
                    {"a": "=", "b": 'q"', "c": "a,b", "d": "\uff0b"},
                )
            json_value = "CAST(:e AS json)" if dialect == "postgresql" else ":e"
            conn.execute(
                text(f"UPDATE status_update SET evidence = {json_value} WHERE id % 2 = 0"),
                {"e": EVIDENCE},
            )
            for table, key in (("status_update", "id"), ("commitment_latest", "commitment_id")):
                retimed = RETIMED[dialect].format(key=key)
                conn.execute(
                    text(
                        f"UPDATE {table} SET reported_at = {retimed} WHERE reported_at IS NOT NULL"
                    )
                )
        yield engine


def _pairs(dialect: str) -> list[tuple[str, Report, Report]]:
    """(label, the report as the database writes it, the same rows for the encoders)."""
    out = []
    for as_of in (None, date(2025, 1, 1)):
        clock = Clock.at(as_of, 90)
        for name, report in (
            ("commitments", service.commitments(dialect, clock, CommitmentFilters())),
            (
                "commitments overdue",
                service.commitments(dialect, clock, CommitmentFilters(overdue=True)),
            ),
            ("recommendations", service.recommendations(dialect, clock)),
        ):
            out.append((f"{name} {as_of}", report, report))
        out.append(
            (
                f"status-history {as_of}",
                service.status_history(clock, dialect=dialect),
                # The evidence as stored, its URLs joined in Python: the old way.
                service.status_history(clock),
            )
        )
    return out


@pytest.mark.parametrize("csv", [False, True], ids=["json", "csv"])
def test_every_report_written_by_the_database_is_what_the_encoders_wrote(
    awkward_engine: Engine, csv: bool
) -> None:
    for label, report, reference in _pairs(awkward_engine.dialect.name):
        assert report.written_by_database, label
        with awkward_engine.connect() as conn:
            rows = [list(b) for b in reference.batches(conn)]
        assert any(rows), label
        old = (old_csv_chunks if csv else old_json_chunks)(reference.columns, rows, reference.fixes)
        with awkward_engine.connect() as conn:
            header = _csv_header(report.columns) if csv else b""
            new = b"".join(text_chunks(report.texts(conn, csv=csv), csv=csv, header=header))
        assert new == b"".join(old), label


def test_the_awkward_data_is_really_there(awkward_engine: Engine) -> None:
    dialect = awkward_engine.dialect.name
    report = service.commitments(dialect, Clock.at(None, 90), CommitmentFilters())
    with awkward_engine.connect() as conn:
        body = b"".join(text_chunks(report.texts(conn, csv=True), csv=True))
    decoded = body.decode()
    for needle in ('"quote "" inside"', "'=1+1", '"line\nbreak"', "'\uff0b", "Z,"):
        assert needle in decoded


@pytest.mark.postgres_only
@pytest.mark.parametrize("csv", [False, True], ids=["json", "csv"])
def test_recommendations_first_batch_and_rest_are_the_rows_either_statement_writes(
    awkward_engine: Engine, csv: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads the recommendations report's first batch per row and the rest
    from the joined aggregates, in one snapshot: the rows are what either statement
    alone writes, in order, wherever the first batch ends."""
    for as_of in (None, date(2025, 1, 1)):
        report = service.recommendations("postgresql", Clock.at(as_of, 90))
        assert report.rest is not None

        def batches(r: Report) -> list[list[str]]:
            with awkward_engine.connect() as conn:
                texts = r.texts(conn, csv=csv)
                out = [next(texts)]
                isolation = conn.exec_driver_sql("SHOW transaction_isolation").scalar_one()
                assert (isolation == "repeatable read") == (r.rest is not None)
                return out + list(texts)

        per_row = [t for b in batches(replace(report, rest=None)) for t in b]
        joined = [t for b in batches(replace(report, statement=report.rest, rest=None)) for t in b]
        assert len(per_row) > 3
        assert per_row == joined, as_of
        for first in (1, 3, len(per_row), len(per_row) + 1):
            monkeypatch.setattr(service, "FIRST_BATCH_ROWS", first)
            split = batches(report)
            assert len(split[0]) == min(first, len(per_row))
            assert [t for b in split for t in b] == per_row, (as_of, first)


# A clock per shape: two days apart (as of a day) or two staleness windows (now).
_SAME_SHAPE = {
    "as of a day": (Clock.at(date(2024, 6, 30), 90), Clock.at(date(2025, 1, 1), 90)),
    "now": (Clock.at(None, 1), Clock.at(None, 90)),
}
_BUILT: dict[str, Callable[[str, Clock], Report]] = {
    "commitments": lambda d, clock: service.commitments(d, clock, CommitmentFilters()),
    "commitments overdue": lambda d, clock: service.commitments(
        d, clock, CommitmentFilters(overdue=True)
    ),
    "recommendations": lambda d, clock: service.recommendations(d, clock),
    "status-history": lambda d, clock: service.status_history(clock, dialect=d),
}
_SHAPE_CACHES = (
    service._commitments_of_shape,
    service._recommendations,
    service._status_history,
    service._written,
)


def _written_body(engine: Engine, report: Report, *, csv: bool) -> bytes:
    with engine.connect() as conn:
        header = _csv_header(report.columns) if csv else b""
        return b"".join(text_chunks(report.texts(conn, csv=csv), csv=csv, header=header))


@pytest.mark.parametrize("csv", [False, True], ids=["json", "csv"])
@pytest.mark.parametrize("shape", sorted(_SAME_SHAPE))
def test_a_statement_built_once_per_shape_is_run_at_each_requests_clock(
    awkward_engine: Engine, csv: bool, shape: str
) -> None:
    """A report's statements are kept per shape and reused by the next request of that
    shape, which gets the rows of its own clock: what a statement first built for that
    clock gives (a kept statement that froze the first request's clock would fail)."""
    dialect = awkward_engine.dialect.name
    first, second = _SAME_SHAPE[shape]
    for name, built in _BUILT.items():
        for cache in _SHAPE_CACHES:
            cache.cache_clear()
        fresh = _written_body(awkward_engine, built(dialect, second), csv=csv)
        for cache in _SHAPE_CACHES:
            cache.cache_clear()
        earlier = built(dialect, first)
        earlier_body = _written_body(awkward_engine, earlier, csv=csv)
        later = built(dialect, second)
        assert later.statement is earlier.statement, name
        assert later.rest is earlier.rest, name
        assert _written_body(awkward_engine, later, csv=csv) == fresh, name
        # Now, only the commitments' staleness reads the clock's values.
        if shape != "now" or name.startswith("commitments"):
            assert earlier_body != fresh, (name, "the two clocks should give other rows")
