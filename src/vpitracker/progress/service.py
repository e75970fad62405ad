"""Progress figures: what dashboards show, computed by the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import FromClause, Select
from sqlmodel import Session

from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import RecommendationFilters
from vpitracker.kernel.state import ClockValues
from vpitracker.progress import (
    bucket_repository,
    repository,
    timeline_repository,
    timeline_service,
)
from vpitracker.progress.schemas import (
    ClusterFigures,
    ClusterRow,
    Figures,
    ImplementationCounts,
    InstrumentFigures,
    InstrumentRow,
    MinistryRow,
    MinistryScorecard,
    StatusCounts,
    Summary,
    Timeline,
    VerdictCounts,
)
from vpitracker.recommendations import service as recommendations_service
from vpitracker.vocab import (
    CLUSTER_NAMES,
    DerivedVerdict,
    Implementation,
    Instrument,
    ReportedStatus,
)


def _one_decimal(value: Decimal | float) -> float:
    """Rounded half up, as people and spreadsheets round."""
    # round() on a float goes half-to-even on the binary value (6.25 -> 6.2, 10.45 -> 10.4).
    # str() of a float is its shortest round-trip form: the exact decimal of avg(int).
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _mean(value: Decimal | float | None) -> float | None:
    """avg() rounded; None when it is over no commitment (SQL's avg() of nothing is NULL)."""
    return None if value is None else _one_decimal(value)


def _figures(row: repository.FigureRow) -> dict[str, Any]:
    return {
        **{status: getattr(row, status) for status in repository.STATUSES},
        "overdue": row.overdue,
        "stale": row.stale,
        "contested": row.contested,
        "mean_progress_percent": _mean(row.mean_progress_percent),
    }


def summary(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
) -> Summary:
    """Counts by status and verdict, flags, completion and recommendations' implementation."""
    if ministry_id is None and cluster is None and instrument is None:
        statements = _every_summary(clock.as_of is not None)
        c, r = repository.summary(session, statements, repository.counted_params(clock))
        return _summary_of(clock, c, r)
    # Filtered, the two are apart: the counted commitments are a few, planned on their
    # own, while the recommendations' implementation is over all theirs.
    counted = repository.counted(clock, ministry_id, cluster, instrument)
    return _summary(session, clock, counted, ministry_id, cluster, instrument)


@lru_cache(maxsize=2)
def _every_summary(as_of: bool) -> tuple[Select[Any], ...]:
    """Every commitment's summary statements, built once per clock shape, its values bound
    (``repository.counted_params``). As of a past day, the state (the spans current
    then) is read once for both the commitments' figures and the recommendations'."""
    clock, every = ClockValues.bound(as_of=as_of), RecommendationFilters()
    if as_of:
        shared = repository.shared_state_bound()
        recommendations = recommendations_service.implementation_query(
            clock, every, statuses=shared.statuses
        ).subquery("recs")
        return repository.summary_statements(shared.counted, recommendations, together=True)
    counted = repository.counted_bound(repository.Shape())
    recommendations = recommendations_service.implementation_query(clock, every).subquery("recs")
    return repository.summary_statements(counted, recommendations)


def _summary(
    session: Session,
    clock: Clock,
    counted: FromClause,
    ministry_id: int | None,
    cluster: int | None,
    instrument: Instrument | None,
    totals: repository.CommitmentTotals | None = None,
) -> Summary:
    """``totals``: the counted commitments' figures when the caller has read them."""
    recommendations = recommendations_service.implementation_query(
        clock,
        RecommendationFilters(
            ministry_id=ministry_id,
            cluster=cluster,
            instrument=instrument.value if instrument else None,
        ),
    ).subquery("recs")
    if totals is None:
        c, r = repository.summary(session, repository.summary_statements(counted, recommendations))
    else:
        c, r = totals, repository.recommendation_totals(session, recommendations)
    return _summary_of(clock, c, r)


def _summary_of(
    clock: Clock, c: repository.CommitmentTotals, r: repository.RecommendationTotals
) -> Summary:
    figures = _figures(c.figures)
    total = c.commitments
    return Summary(
        as_of=clock.ref_date,
        commitments=total,
        by_reported_status=StatusCounts(**{s.value: figures[s.value] for s in ReportedStatus}),
        by_verdict=VerdictCounts(**{v.value: c.verdicts[v.value] for v in DerivedVerdict}),
        overdue=figures["overdue"],
        stale=figures["stale"],
        contested=figures["contested"],
        percent_completed=_one_decimal(Decimal(figures["completed"] * 100) / total)
        if total
        else 0.0,
        mean_progress_percent=figures["mean_progress_percent"] or 0.0,
        recommendations=r.recommendations,
        by_implementation=ImplementationCounts(
            **{i.value: r.implementations[i.value] for i in Implementation}
        ),
    )


def ministries(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
) -> MinistryScorecard:
    """The per-ministry scorecard."""
    rows = repository.ministries(
        session, clock, ministry_id=ministry_id, cluster=cluster, instrument=instrument
    )
    return _scorecard_of(clock, rows)


_MINISTRY_FIELDS = tuple(MinistryRow.model_fields)


def _scorecard_of(clock: Clock, rows: Sequence[repository.MinistryValues]) -> MinistryScorecard:
    """The rows (each a ``MinistryRow``'s values) validated as one scorecard in one call,
    not a model built per row."""
    items = [dict(zip(_MINISTRY_FIELDS, row, strict=True)) for row in rows]
    return MinistryScorecard.model_validate({"as_of": clock.ref_date, "items": items})


def _empty_figures() -> dict[str, Any]:
    return Figures(
        **{s.value: 0 for s in ReportedStatus},
        overdue=0,
        stale=0,
        contested=0,
        mean_progress_percent=None,
    ).model_dump()


def clusters(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    instrument: Instrument | None = None,
) -> ClusterFigures:
    """Figures per review cluster (every cluster, zero when none)."""
    rows = bucket_repository.filtered_by_provision_fields(
        session, clock, ("cluster",), ministry_id, None, instrument
    )
    return _cluster_figures(clock, rows.fields["cluster"])


def _cluster_figures(clock: Clock, rows: list[repository.BucketFigures]) -> ClusterFigures:
    found = {row.bucket: row for row in rows}
    without = found.pop(None, None)
    items = []
    for number, name in CLUSTER_NAMES.items():
        row = found.get(number)
        figures = _figures(row.figures) if row is not None else _empty_figures()
        commitments = row.commitments if row is not None else 0
        items.append(
            ClusterRow(cluster=number, cluster_name=name, commitments=commitments, **figures)
        )
    return ClusterFigures(
        as_of=clock.ref_date,
        items=items,
        commitments_without_cluster=without.commitments if without is not None else 0,
    )


def instruments(
    session: Session,
    clock: Clock,
    *,
    ministry_id: int | None = None,
    cluster: int | None = None,
) -> InstrumentFigures:
    """Figures per instrument (UNTOC and each Protocol)."""
    rows = bucket_repository.filtered_by_provision_fields(
        session, clock, ("instrument",), ministry_id, cluster, None
    )
    return _instrument_figures(clock, rows.fields["instrument"])


def _instrument_figures(clock: Clock, rows: list[repository.BucketFigures]) -> InstrumentFigures:
    found = {row.bucket: row for row in rows}
    items = []
    for instrument in Instrument:
        row = found.get(instrument.value)
        figures = _figures(row.figures) if row is not None else _empty_figures()
        commitments = row.commitments if row is not None else 0
        items.append(InstrumentRow(instrument=instrument.value, commitments=commitments, **figures))
    return InstrumentFigures(as_of=clock.ref_date, items=items)


@dataclass
class Scorecard:
    summary: Summary
    ministries: MinistryScorecard
    clusters: ClusterFigures
    instruments: InstrumentFigures
    timeline: Timeline


def scorecard(session: Session, clock: Clock) -> Scorecard:
    """The whole alliance's figures for the scorecard page.

    The same figures as ``summary``, ``ministries``, ``clusters``, ``instruments``
    and the quarterly ``timeline`` without filters, in fewer statements than
    ``summary`` and ``ministries`` alone run: one grouped statement answers the
    commitments' totals, clusters, instruments and the timeline's first day, then
    come the recommendations', the ministries' and the timeline's moves' statements.
    The grouped statement is built once per shape, the clock's values bound.
    The derived state is read from ``commitment_figures`` by each statement; a copy
    of it in a temporary table cost more (create, fill, analyze, drop) than it saved.
    """
    counted = repository.counted(clock, None, None, None)
    buckets = bucket_repository.every_by_provision_fields(session, clock, ("cluster", "instrument"))
    every = timeline_service.counted(clock, None, None, None)
    return Scorecard(
        summary=_summary(session, clock, counted, None, None, None, buckets.totals),
        ministries=ministries(session, clock),
        clusters=_cluster_figures(clock, buckets.fields["cluster"]),
        instruments=_instrument_figures(clock, buckets.fields["instrument"]),
        timeline=timeline_service.rows(
            clock,
            3,
            buckets.first_committed_on,
            partial(timeline_repository.every_moves_per_month, session, every),
        ),
    )
