"""The figures row kept per commitment (``commitment_figures``), one floor below the
domains that change what it holds.

Every non-archived commitment has one row: its lead ministry and dates, a bit mask
of the review clusters and one of the instruments of its recommendations'
provisions, and its newest update's and assessment's fields (as in
``commitment_latest``). A post or an assessment updates its commitment's row
(``note_newest``); a commitment's create, edit or archive, and
a change of a recommendation's provisions or of a provision's cluster or
instrument, rewrite the rows concerned from the records (``refresh``), in the same
transaction as the change. Overdue and stale depend on the clock and are derived
when the row is read (``kernel.state.figures_state``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from vpitracker.models import (
    Commitment,
    CommitmentFigures,
    CommitmentLatest,
    CommitmentRecommendation,
    Provision,
    RecommendationProvision,
    table_of,
)
from vpitracker.vocab import CLUSTER_NAMES, Instrument

# The buckets of each provision field the figures report, in their order.
BUCKETS: dict[str, tuple[int | str, ...]] = {
    "cluster": tuple(CLUSTER_NAMES),
    "instrument": tuple(i.value for i in Instrument),
}


def bits(field: str) -> dict[int | str | None, int]:
    """One bit per bucket of ``field``, and one (None) for a value outside the vocabulary."""
    return {bucket: 1 << n for n, bucket in enumerate((*BUCKETS[field], None))}


def mask_column(field: str) -> str:
    """The figures row's column holding ``field``'s mask."""
    return f"{field}_mask"


def _mask(column: ColumnElement[Any], field: str) -> ColumnElement[int]:
    """The OR of the bits of ``column`` over a group: a sum of each bit's max (portable)."""
    known = bits(field)
    outside = known.pop(None)
    parts = [func.max(case((column == bucket, bit), else_=0)) for bucket, bit in known.items()]
    parts.append(
        func.max(case((and_(column.is_not(None), column.not_in(list(known))), outside), else_=0))
    )
    total: ColumnElement[int] = literal(0)
    for part in parts:
        total = total + part
    return total


CommitmentIds = Iterable[int] | Select[int]


def _ids(commitment_ids: CommitmentIds) -> list[int] | Select[int]:
    return commitment_ids if isinstance(commitment_ids, Select) else sorted(set(commitment_ids))


# A figures row as ``_rows`` selects it, in ``COLUMNS``' order.
FigureValues = tuple[
    int,
    int,
    date,
    date,
    int,
    int,
    str | None,
    int | None,
    datetime | None,
    str | None,
    datetime | None,
]


def _rows(commitment_ids: list[int] | Select[int] | None) -> Select[*FigureValues]:
    """The figures rows of the non-archived commitments (all, or these), from the records."""
    c, latest = table_of(Commitment), table_of(CommitmentLatest)
    links, rp, p = (
        table_of(CommitmentRecommendation),
        table_of(RecommendationProvision),
        table_of(Provision),
    )
    masks = (
        select(
            links.c.commitment_id,
            _mask(p.c.cluster, "cluster").label("cluster"),
            _mask(p.c.instrument, "instrument").label("instrument"),
        )
        .join(rp, rp.c.recommendation_id == links.c.recommendation_id)
        .join(p, p.c.key == rp.c.provision_key)
        .group_by(links.c.commitment_id)
    )
    if commitment_ids is not None:
        masks = masks.where(links.c.commitment_id.in_(commitment_ids))
    m = masks.subquery("masks")
    stmt = (
        select(
            c.c.id,
            c.c.lead_ministry_id,
            c.c.committed_on,
            c.c.due_date,
            func.coalesce(m.c.cluster, 0),
            func.coalesce(m.c.instrument, 0),
            latest.c.status,
            latest.c.progress_percent,
            latest.c.reported_at,
            latest.c.verdict,
            latest.c.assessed_at,
        )
        .select_from(
            c.outerjoin(latest, latest.c.commitment_id == c.c.id).outerjoin(
                m, m.c.commitment_id == c.c.id
            )
        )
        .where(c.c.archived_at.is_(None))
    )
    if commitment_ids is not None:
        stmt = stmt.where(c.c.id.in_(commitment_ids))
    return stmt


COLUMNS = [
    "commitment_id",
    "lead_ministry_id",
    "committed_on",
    "due_date",
    "cluster_mask",
    "instrument_mask",
    "status",
    "progress_percent",
    "reported_at",
    "verdict",
    "assessed_at",
]


def refresh(session: Session, commitment_ids: CommitmentIds | None = None) -> None:
    """Rewrite the figures rows of these commitments (all when None) from the records."""
    figures = table_of(CommitmentFigures)
    ids = None if commitment_ids is None else _ids(commitment_ids)
    if ids == []:
        return
    remove = delete(figures)
    if ids is not None:
        remove = remove.where(figures.c.commitment_id.in_(ids))
    session.execute(remove)
    session.execute(insert(figures).from_select(COLUMNS, _rows(ids)))


def forget(session: Session, commitment_id: int) -> None:
    """The commitment is archived: it has no figures row."""
    figures = table_of(CommitmentFigures)
    session.execute(delete(figures).where(figures.c.commitment_id == commitment_id))


def of_recommendation(recommendation_id: int) -> Select[int]:
    """The commitments answering this recommendation."""
    links = table_of(CommitmentRecommendation)
    return select(links.c.commitment_id).where(links.c.recommendation_id == recommendation_id)


def of_provision(key: str) -> Select[int]:
    """The commitments answering a recommendation that cites this provision."""
    links, rp = table_of(CommitmentRecommendation), table_of(RecommendationProvision)
    return (
        select(links.c.commitment_id)
        .join(rp, rp.c.recommendation_id == links.c.recommendation_id)
        .where(rp.c.provision_key == key)
    )


def note_newest(values: Mapping[str, Any]) -> Update:
    """The commitment's newest status update or assessment sets these columns of its row
    (``values``: bound values; the commitment is bound as ``n_commitment_id``)."""
    figures = table_of(CommitmentFigures)
    return (
        sa_update(figures)
        .where(figures.c.commitment_id == bindparam("n_commitment_id", type_=Integer()))
        .values(dict(values))
    )
