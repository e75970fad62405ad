"""Report bodies are byte for byte what the general encoders wrote.

The JSON and CSV writers encode a batch a column at a time with per-type fast
paths; tests/reports/reference_encoders.py keeps the writers they replaced
(``json.JSONEncoder`` over row dicts, ``csv.writer`` over ``csvout.cell``), and
every report on the demo data, and batches of awkward values, must come out the
same from both.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tests.reports.reference_encoders import old_csv_chunks, old_json_chunks
from vpitracker import demo, migrate
from vpitracker.db import make_engine
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.reports import service
from vpitracker.reports.service import Report
from vpitracker.reports.streaming import csv_chunks, json_chunks


class Colour(StrEnum):
    red = "red"


class Level(IntEnum):
    high = 3


class Plain(Enum):
    one = "one,two"


AWKWARD_TEXT = [
    "",
    "plain",
    "comma, inside",
    'quote " inside',
    '"quoted"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend",
    "=1+1",
    "+254 700",
    "-3",
    "@SUM(A1)",
    "\tindented",
    "\rstart",
    "Kiswahili: maendeleo ya ahadi — ✓ 日本 \u2028 \u00e9",
    "emoji 🇰🇪",
    "percent %s %d %% {x}",
    "back\\slash and \x01 control \x1f",
    "   spaces   ",
]


def _awkward_batches() -> list[list[tuple[Any, ...]]]:
    eat = timezone(timedelta(hours=3))
    values: list[tuple[Any, ...]] = []
    for i, text in enumerate(AWKWARD_TEXT):
        values.append(
            (
                i,
                text,
                None if i % 3 == 0 else text,
                date(2024, 1 + i % 12, 1 + i),
                datetime(2024, 5, 1, 12, 30, i, 0 if i % 2 else 123456, tzinfo=UTC),
                datetime(2024, 5, 1, 12, 30, tzinfo=eat) if i % 4 == 0 else None,
                bool(i % 2),
                i % 2,  # SQLite's flags, fixed below
                [f"https://example.org/{i}?a=1,b=2", "x"] if i % 5 else None,
            )
        )
    # Mixed columns: every type a value can take, in one column.
    values.append(
        (
            -(2**63),
            Colour.red,
            Level.high,
            date(1900, 1, 1),
            datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            1.5,
            True,
            1,
            [],
        )
    )
    values.append((2**70, "", 0.1, None, None, date(2024, 2, 29), False, 0, ["=x"]))
    return [values[:7], [], values[7:]]


COLUMNS = ("id", "text", "maybe", "day", "at", "at_east", "flag", "int_flag", "urls")


def _urls(value: Any) -> str:
    return "; ".join(value or [])


FIXES: tuple[Callable[[Any], Any] | None, ...] = (None,) * 7 + (bool, _urls)


@pytest.mark.parametrize("fixes", [FIXES, (None,) * 8 + (_urls,)], ids=["fixed", "unfixed"])
def test_awkward_values_encode_as_before(fixes: Sequence[Any]) -> None:
    batches = _awkward_batches()
    assert b"".join(json_chunks(COLUMNS, batches, fixes)) == b"".join(
        old_json_chunks(COLUMNS, batches, fixes)
    )
    assert b"".join(csv_chunks(COLUMNS, batches, fixes)) == b"".join(
        old_csv_chunks(COLUMNS, batches, fixes)
    )


def test_csv_writes_a_plain_enum_by_its_value() -> None:
    rows = [[(Plain.one, Colour.red), (None, "=2")]]
    fixes = (None, None)
    assert b"".join(csv_chunks(("a", "b"), rows, fixes)) == b"".join(
        old_csv_chunks(("a", "b"), rows, fixes)
    )


def test_odd_column_names_and_empty_reports() -> None:
    columns = ("per%cent", 'quote"d', "ünï")
    rows: list[list[tuple[int, str, str | None]]] = [[(1, "a", None)], [(2, "%s", "b")]]
    fixes = (None, None, None)
    for new, old in ((json_chunks, old_json_chunks), (csv_chunks, old_csv_chunks)):
        assert b"".join(new(columns, rows, fixes)) == b"".join(old(columns, rows, fixes))
        assert b"".join(new(columns, [], fixes)) == b"".join(old(columns, [], fixes))
        assert b"".join(new(columns, [[]], fixes)) == b"".join(old(columns, [[]], fixes))


def test_values_json_cannot_write_still_fail() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        b"".join(json_chunks(("x",), [[(float("nan"),)]]))
    with pytest.raises(TypeError, match="not JSON serializable"):
        b"".join(json_chunks(("x",), [[(object(),)]]))


def test_csv_header_goes_out_before_the_first_fetch() -> None:
    def batches() -> Iterator[list[tuple[Any, ...]]]:
        raise AssertionError("fetched before the header was sent")
        yield []  # pragma: no cover

    body = csv_chunks(("id", "code"), batches())
    assert next(body) == b"id,code\r\n"
    body.close()


@contextmanager
def demo_database(path: Path) -> Iterator[Engine]:
    """A scratch database of the test database's kind, with the demo data."""
    from tests.conftest import scratch_database

    with scratch_database(path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine) as session:
            demo.load(session)
            session.commit()
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with demo_database(tmp_path_factory.mktemp("demo")) as engine:
        yield engine


def _reports(dialect: str) -> list[Report]:
    past = Clock.at(date(2025, 1, 1), 90)
    now = Clock.at(None, 90)
    return [
        service.commitments(dialect, now, CommitmentFilters()),
        service.commitments(dialect, past, CommitmentFilters()),
        service.recommendations(dialect, now),
        service.recommendations(dialect, past),
        service.status_history(now),
        service.status_history(past),
    ]


def test_every_demo_report_encodes_as_before(demo_engine: Engine) -> None:
    for report in _reports(demo_engine.dialect.name):
        with demo_engine.connect() as conn:
            batches = [list(b) for b in report.batches(conn)]
        assert sum(map(len, batches)) > 0, report.name
        for new, old in ((json_chunks, old_json_chunks), (csv_chunks, old_csv_chunks)):
            assert b"".join(new(report.columns, batches, report.fixes)) == b"".join(
                old(report.columns, batches, report.fixes)
            ), (report.name, new.__name__)


def test_random_text_encodes_as_before() -> None:
    rng = random.Random(16)
    alphabet = ",\"\r\n\t =+-@;'\\%ab é✓"
    rows = [
        tuple("".join(rng.choice(alphabet) for _ in range(rng.randrange(6))) for _ in range(4))
        for _ in range(2000)
    ]
    batches = [rows[:700], rows[700:]]
    fixes = (None,) * 4
    columns = ("a", "b", "c", "d")
    for new, old in ((json_chunks, old_json_chunks), (csv_chunks, old_csv_chunks)):
        assert b"".join(new(columns, batches, fixes)) == b"".join(old(columns, batches, fixes))


def test_one_column_csv_keeps_empty_records() -> None:
    batches = [[("",), ("x",), (None,), ("a,b",)]]
    assert b"".join(csv_chunks(("only",), batches, (None,))) == b"".join(
        old_csv_chunks(("only",), batches, (None,))
    )
