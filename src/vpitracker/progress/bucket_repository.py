"""Figures per review cluster and per instrument, and the totals over every commitment.

A commitment counts under every cluster and every instrument of its
recommendations' provisions, and once under "none" for a field it has none of.
Each commitment's ``commitment_figures`` row keeps a bit mask of those buckets
(``kernel.figures``), so the database sums the counted commitments per mask of
each field (at most one row per mask, with no join) and those few rows are added
up here per bucket. One statement: the counted commitments are grouped once, and
each field's masks (and the totals, when asked) are summed from those groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    FromClause,
    Select,
    String,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from vpitracker.kernel import figures
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.figures import BUCKETS
from vpitracker.progress.repository import (
    STATUSES,
    BucketFigures,
    CommitmentTotals,
    FigureRow,
    Shape,
    counted_bound,
    counted_params,
)
from vpitracker.vocab import DerivedVerdict, Instrument

VERDICTS = tuple(v.value for v in DerivedVerdict)
FLAGS = ("overdue", "stale", "contested")
# The kind of the totals' row (the fields' rows carry the field's name).
TOTALS = "all"


@dataclass
class _Sums:
    commitments: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    flags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FLAGS, 0))
    progress: int = 0
    with_progress: int = 0

    def add(self, row: RowMapping) -> None:
        # Sums over no group (the totals of nothing) are NULL.
        self.commitments += int(row["n"] or 0)
        for status in STATUSES:
            self.statuses[status] += int(row[status] or 0)
        for flag in FLAGS:
            self.flags[flag] += int(row[flag] or 0)
        self.progress += int(row["progress"] or 0)
        self.with_progress += int(row["with_progress"] or 0)

    def figure_row(self) -> FigureRow:
        # The exact mean, as avg() answers it: an integer sum over a count.
        mean = Decimal(self.progress) / self.with_progress if self.with_progress else None
        return FigureRow(**self.statuses, **self.flags, mean_progress_percent=mean)

    def figures(self, bucket: int | str | None) -> BucketFigures:
        return BucketFigures(figures=self.figure_row(), bucket=bucket, commitments=self.commitments)


@dataclass(frozen=True)
class Buckets:
    """Per field, figures per bucket ordered by bucket; with ``totals``, the figures over
    every counted commitment and the first day one was made (None: there is none)."""

    fields: dict[str, list[BucketFigures]]
    totals: CommitmentTotals | None = None
    first_committed_on: date | None = None


def _weighted(condition: ColumnElement[bool], weight: ColumnElement[int]) -> ColumnElement[int]:
    return func.sum(case((condition, weight), else_=0))


def _sums(groups: FromClause, kind: str, *, totals: bool) -> Select[Any]:
    """One row of sums over ``groups`` per mask of the field ``kind`` (one row in all for
    ``TOTALS``), each column named as ``_Sums.add`` and ``_totals`` read it."""
    g = groups.c
    columns: list[ColumnElement[Any]] = [
        literal_column(f"'{kind}'", String).label("kind"),
        (g[figures.mask_column(kind)] if kind != TOTALS else literal_column("0")).label("mask"),
        func.sum(g.n).label("n"),
        *(_weighted(g.reported_status == s, g.n).label(s) for s in STATUSES),
        *(_weighted(g[flag] == True, g.n).label(flag) for flag in FLAGS),  # noqa: E712
        func.sum(g.progress).label("progress"),
        func.sum(g.with_progress).label("with_progress"),
    ]
    if totals:
        columns += [
            *(_weighted(g.verdict == v, g.n).label(f"verdict_{v}") for v in VERDICTS),
            func.min(g.first).label("first"),
        ]
    stmt = select(*columns).select_from(groups)
    return stmt if kind == TOTALS else stmt.group_by(g[figures.mask_column(kind)])


def _totals(row: RowMapping) -> CommitmentTotals:
    sums = _Sums()
    sums.add(row)
    return CommitmentTotals(
        figures=sums.figure_row(),
        commitments=sums.commitments,
        verdicts={v: int(row[f"verdict_{v}"] or 0) for v in VERDICTS},
    )


def every_by_provision_fields(session: Session, clock: Clock, fields: tuple[str, ...]) -> Buckets:
    """``filtered_by_provision_fields`` of every counted commitment, with the totals."""
    return filtered_by_provision_fields(session, clock, fields, totals=True)


def filtered_by_provision_fields(
    session: Session,
    clock: Clock,
    fields: tuple[str, ...],
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
    *,
    totals: bool = False,
) -> Buckets:
    """Per field (``cluster``, ``instrument``): figures per bucket, ordered by bucket, of
    the commitments counted at ``clock`` under the filters (``repository.counted``);
    with ``totals``, the figures over them all and their first day.

    A bucket no counted commitment falls under is left out; bucket None (last) holds
    the commitments with none of the field. The statement is built once per shape
    (``_built``) and run with the clock's and the filters' values (``counted_params``).
    """
    stmt = _built(fields, Shape.of(clock, ministry_id, cluster, instrument), totals)
    params = counted_params(clock, ministry_id, cluster, instrument)
    return _buckets(session.execute(stmt, params).mappings(), fields)


# Shapes: the filters set (8) by clock (2) by breakdown and the scorecard's (3).
@lru_cache(maxsize=48)
def _built(
    fields: tuple[str, ...], shape: Shape, totals: bool
) -> Select[Any] | CompoundSelect[Any]:
    return _statement(counted_bound(shape), fields, totals=totals)


def _statement(
    counted: FromClause, fields: Sequence[str], *, totals: bool
) -> Select[Any] | CompoundSelect[Any]:
    c = counted.c
    keys = [
        *(c[figures.mask_column(f)] for f in fields),
        c.reported_status,
        *(c[flag] for flag in FLAGS),
        *([c.verdict] if totals else []),
    ]
    grouped: list[ColumnElement[Any]] = [
        func.count().label("n"),
        func.sum(c.progress_percent).label("progress"),
        func.count(c.progress_percent).label("with_progress"),
    ]
    if totals:
        grouped.append(func.min(c.committed_on).label("first"))
    groups = select(*keys, *grouped).select_from(counted).group_by(*keys).cte("groups")
    kinds = [*([TOTALS] if totals else []), *fields]
    parts = [_sums(groups, kind, totals=totals) for kind in kinds]
    return parts[0] if len(parts) == 1 else parts[0].union_all(*parts[1:])


def _buckets(rows: Iterable[RowMapping], fields: Sequence[str]) -> Buckets:
    bits = {f: figures.bits(f) for f in fields}
    sums: dict[str, dict[int | str | None, _Sums]] = {f: {} for f in fields}
    found: Buckets = Buckets(fields={})
    for row in rows:
        kind = row["kind"]
        if kind == TOTALS:
            first = row["first"]
            found = Buckets({}, _totals(row), first if isinstance(first, date) else None)
            continue
        mask = int(row["mask"])
        buckets: list[int | str | None] = [b for b in BUCKETS[kind] if mask & bits[kind][b]]
        for bucket in buckets if mask else [None]:
            sums[kind].setdefault(bucket, _Sums()).add(row)
    order = {f: {b: n for n, b in enumerate((*BUCKETS[f], None))} for f in fields}
    return replace(
        found,
        fields={
            f: [
                s.figures(bucket)
                for bucket, s in sorted(sums[f].items(), key=lambda item: order[f][item[0]])
            ]
            for f in fields
        },
    )
