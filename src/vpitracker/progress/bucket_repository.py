"""Figures per review cluster and per instrument: both from one grouped statement.

A commitment counts under every cluster and every instrument of its
recommendations' provisions, and once under "none" for a field it has none of.
Instead of the distinct (commitment, bucket) pairs, sorted per request, each
recommendation gets a bit mask of its provisions' buckets, each commitment the
OR of its recommendations' masks (hashed, no sort), and the counted commitments
are grouped by their masks and figure columns: a few hundred groups, which are
added up here per bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, FromClause, case, func, literal, select
from sqlalchemy.orm import Session

from vpitracker.models import CommitmentRecommendation, Provision, RecommendationProvision, table_of
from vpitracker.progress.repository import BucketFigures, FigureRow
from vpitracker.vocab import CLUSTER_NAMES, Instrument, ReportedStatus

# The buckets of each provision field the figures report.
BUCKETS: dict[str, tuple[int | str, ...]] = {
    "cluster": tuple(CLUSTER_NAMES),
    "instrument": tuple(i.value for i in Instrument),
}
STATUSES = tuple(s.value for s in ReportedStatus)


@dataclass
class _Sums:
    commitments: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    overdue: int = 0
    stale: int = 0
    contested: int = 0
    progress: int = 0
    with_progress: int = 0

    def add(self, group: Any) -> None:
        n = int(group.n)
        self.commitments += n
        self.statuses[group.reported_status] += n
        self.overdue += n if group.overdue else 0
        self.stale += n if group.stale else 0
        self.contested += n if group.contested else 0
        self.progress += int(group.progress or 0)
        self.with_progress += int(group.with_progress)

    def figures(self, bucket: int | str | None) -> BucketFigures:
        # The exact mean, as avg() answers it: an integer sum over a count.
        mean = Decimal(self.progress) / self.with_progress if self.with_progress else None
        return BucketFigures(
            figures=FigureRow(
                **self.statuses,
                overdue=self.overdue,
                stale=self.stale,
                contested=self.contested,
                mean_progress_percent=mean,
            ),
            bucket=bucket,
            commitments=self.commitments,
        )


def _bits(field: str) -> dict[int | str | None, int]:
    """One bit per bucket of ``field``, and one (None) for a value outside the vocabulary."""
    return {bucket: 1 << n for n, bucket in enumerate((*BUCKETS[field], None))}


def _bit_of(column: ColumnElement[Any], bits: dict[int | str | None, int]) -> Any:
    known = [(column == bucket, bit) for bucket, bit in bits.items() if bucket is not None]
    return case(*known, (column.is_(None), 0), else_=bits[None])


def _or(session: Session, column: Any, bits: dict[int | str | None, int], *, distinct: bool) -> Any:
    """The bitwise OR of ``column`` over a group (each row one bit where ``distinct``)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.bit_or(column)
    if distinct:  # SQLite has no bit_or(); distinct single bits add up to their OR
        return func.coalesce(func.sum(column.distinct()), 0)
    return sum((func.max(column.op("&")(bit)) for bit in bits.values()), literal(0))


def by_provision_fields(
    session: Session, counted: FromClause, fields: Sequence[str]
) -> dict[str, list[BucketFigures]]:
    """Per field (``cluster``, ``instrument``): figures per bucket, ordered by bucket.

    A bucket no counted commitment falls under is left out; bucket None (last)
    holds the commitments with none of the field.
    """
    bits = {f: _bits(f) for f in fields}
    rp, p, links = (
        table_of(RecommendationProvision),
        table_of(Provision),
        table_of(CommitmentRecommendation),
    )
    per_recommendation = (
        select(
            rp.c.recommendation_id,
            *(
                _or(session, _bit_of(p.c[f], bits[f]), bits[f], distinct=True).label(f)
                for f in fields
            ),
        )
        .join(p, p.c.key == rp.c.provision_key)
        .group_by(rp.c.recommendation_id)
        .subquery("recommendation_buckets")
    )
    per_commitment = (
        select(
            links.c.commitment_id,
            *(
                _or(session, per_recommendation.c[f], bits[f], distinct=False).label(f)
                for f in fields
            ),
        )
        .join(
            per_recommendation,
            per_recommendation.c.recommendation_id == links.c.recommendation_id,
        )
        .group_by(links.c.commitment_id)
        .subquery("commitment_buckets")
    )
    c = counted.c
    keys = [
        *(func.coalesce(per_commitment.c[f], 0).label(f) for f in fields),
        c.reported_status,
        c.overdue,
        c.stale,
        c.contested,
    ]
    stmt = (
        select(
            *keys,
            func.count().label("n"),
            func.sum(c.progress_percent).label("progress"),
            func.count(c.progress_percent).label("with_progress"),
        )
        .select_from(counted)
        .outerjoin(per_commitment, per_commitment.c.commitment_id == c.id)
        .group_by(*keys)
    )
    sums: dict[str, dict[int | str | None, _Sums]] = {f: {} for f in fields}
    for group in session.execute(stmt):
        masks = group._mapping
        for f in fields:
            mask = int(masks[f])
            found: list[int | str | None] = [b for b in BUCKETS[f] if mask & bits[f][b]]
            if mask == 0:
                found = [None]
            for bucket in found:
                sums[f].setdefault(bucket, _Sums()).add(group)
    order = {f: {b: n for n, b in enumerate((*BUCKETS[f], None))} for f in fields}
    return {
        f: [
            s.figures(bucket)
            for bucket, s in sorted(sums[f].items(), key=lambda item: order[f][item[0]])
        ]
        for f in fields
    }
