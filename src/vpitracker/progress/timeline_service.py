"""The timeline: per month or quarter, updates posted, completions and overdue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import partial

from sqlalchemy import Subquery
from sqlmodel import Session

from vpitracker.commitments import service as commitments_service
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.progress import timeline_repository
from vpitracker.progress.schemas import Timeline, TimelineRow
from vpitracker.vocab import Instrument

# The columns of the counted commitments the timeline reads (it needs no derived state).
COUNTED_COLUMNS = ("id", "lead_ministry_id", "committed_on", "due_date")


def counted(
    clock: Clock,
    ministry_id: int | None,
    cluster: int | None,
    instrument: Instrument | None,
) -> Subquery:
    """The counted commitments without their derived state: what the timeline reads."""
    filters = CommitmentFilters(
        ministry_id=ministry_id,
        cluster=cluster,
        instrument=instrument.value if instrument else None,
    )
    query = commitments_service.state_query(clock, filters, with_state=False)
    # Only what the figures read: the commitment's wide columns (title, description,
    # indicator) stay unread, so the scan can be answered from ix_commitment_figures.
    chosen = query.selected_columns
    kept = [chosen[name] for name in COUNTED_COLUMNS]
    return query.with_only_columns(*kept, maintain_column_froms=True).subquery("counted")


def _period_start(day: date, months: int) -> date:
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def periods(first: date, last: date, months: int) -> list[tuple[date, date]]:
    """Calendar periods covering [first, last]; the last one ends at ``last``."""
    out: list[tuple[date, date]] = []
    start = _period_start(first, months)
    while start <= last:
        following = _add_months(start, months)
        out.append((start, min(following - timedelta(days=1), last)))
        start = following
    return out[-timeline_repository.MAX_PERIODS :]


def _months(start: date, count: int) -> list[str]:
    """The ``YYYY-MM`` keys of the ``count`` months from ``start``."""
    return [_add_months(start, n).strftime("%Y-%m") for n in range(count)]


def timeline(
    session: Session,
    clock: Clock,
    *,
    interval: str,
    ministry_id: int | None = None,
    cluster: int | None = None,
    instrument: Instrument | None = None,
) -> Timeline:
    """Per month or quarter: updates posted, completions (cumulative), overdue at period end."""
    chosen = counted(clock, ministry_id, cluster, instrument)
    moves_up_to: Callable[[date], dict[str, timeline_repository.MonthMoves]]
    if ministry_id is None and cluster is None and instrument is None:
        first = timeline_repository.first_commitment_date(session, chosen)
        moves_up_to = partial(timeline_repository.every_moves_per_month, session, chosen)
    elif ministry_id is not None and cluster is None and instrument is None:
        # A ministry alone is read from its kept rows; other filters from the counted ids'.
        every = counted(clock, None, None, None)
        first = timeline_repository.ministry_first_date(session, every, ministry_id)
        moves_up_to = partial(
            timeline_repository.ministry_moves_per_month, session, every, ministry_id
        )
    else:
        ids, first = timeline_repository.counted_ids(session, chosen)
        moves_up_to = partial(timeline_repository.moves_per_month, session, ids)
    return rows(clock, 3 if interval == "quarter" else 1, first, moves_up_to)


def rows(
    clock: Clock,
    months: int,
    first: date | None,
    moves_up_to: Callable[[date], dict[str, timeline_repository.MonthMoves]],
) -> Timeline:
    """The timeline's rows of ``months``-long periods from ``first`` (the first counted
    commitment's day; None: there is none), from the moves ``moves_up_to`` a day."""
    items: list[TimelineRow] = []
    if first is not None:
        spans = periods(first, clock.ref_date, months)
        moves = moves_up_to(spans[-1][1])
        completed = closed_due = due = 0
        first_month = spans[0][0].strftime("%Y-%m")
        for n, (period_start, period_end) in enumerate(spans):
            # Months before the first period (imported history) count into it.
            period_months = _months(period_start, months)
            keys = set(period_months)
            if n == 0:
                keys |= {m for m in moves if m < first_month}
            for month in keys:
                if month in moves:
                    completed += moves[month].completed
                    closed_due += moves[month].closed_due
                    due += moves[month].due
            items.append(
                TimelineRow(
                    period_start=period_start,
                    period_end=period_end,
                    updates_posted=sum(moves[m].updates for m in period_months if m in moves),
                    commitments_completed_cumulative=completed,
                    overdue_at_end=due - closed_due,
                )
            )
    return Timeline(
        interval="quarter" if months == 3 else "month", as_of=clock.ref_date, items=items
    )
