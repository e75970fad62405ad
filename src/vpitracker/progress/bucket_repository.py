"""Figures per review cluster and per instrument: both from one grouped statement.

A commitment counts under every cluster and every instrument of its
recommendations' provisions, and once under "none" for a field it has none of.
Each commitment's ``commitment_figures`` row keeps a bit mask of those buckets
(``kernel.figures``), so the counted commitments are grouped by their masks and
figure columns, with no join: a few hundred groups, which are added up here per
bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import FromClause, func, select
from sqlalchemy.orm import Session

from vpitracker.kernel import figures
from vpitracker.kernel.figures import BUCKETS
from vpitracker.progress.repository import STATUSES, BucketFigures, FigureRow


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


def by_provision_fields(
    session: Session, counted: FromClause, fields: Sequence[str]
) -> dict[str, list[BucketFigures]]:
    """Per field (``cluster``, ``instrument``): figures per bucket, ordered by bucket.

    ``counted`` carries each commitment's masks (``cluster_mask``, ``instrument_mask``,
    as kept in ``commitment_figures``). A bucket no counted commitment falls under is
    left out; bucket None (last) holds the commitments with none of the field.
    """
    bits = {f: figures.bits(f) for f in fields}
    c = counted.c
    keys = [
        *(c[figures.mask_column(f)].label(f) for f in fields),
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
