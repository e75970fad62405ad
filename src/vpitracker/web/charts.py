"""Geometry for the inline SVG charts: computed here, drawn by the templates.

Widths and heights are SVG attributes in the chart's own coordinates (no
``style=``), so the charts need no script, pass a strict CSP and print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from markupsafe import Markup, escape

from vpitracker import i18n
from vpitracker.progress.schemas import MinistryRow, TimelineRow
from vpitracker.vocab import ReportedStatus

BAR_AREA = 200.0  # width of the longest bar, in viewBox units
ROW = 26.0
# Read once: an enum member's .value is a descriptor call, and a bar is drawn per ministry.
STATUS_KEYS = tuple(s.value for s in ReportedStatus)


@dataclass(frozen=True)
class Bar:
    key: str
    value: int
    y: float
    width: float


@dataclass(frozen=True)
class StatusChart:
    bars: list[Bar]
    height: float


def status_chart(counts: dict[str, int]) -> StatusChart:
    """Horizontal bars, one per reported status, scaled to the largest count."""
    top = max(counts.values(), default=0) or 1
    bars = [
        Bar(s.value, counts.get(s.value, 0), i * ROW, BAR_AREA * counts.get(s.value, 0) / top)
        for i, s in enumerate(ReportedStatus)
    ]
    return StatusChart(bars=bars, height=len(bars) * ROW)


class Segment(NamedTuple):
    """A bar's piece; a tuple in ``_SEGMENT``'s order (one is made per status per ministry)."""

    x: float
    width: float
    key: str


def progress_bar(row: MinistryRow) -> list[Segment]:
    """One stacked bar (0-100) of a ministry's led commitments by status."""
    total = row.commitments_led
    if total == 0:
        return []
    x = 0.0
    segments = []
    for key in STATUS_KEYS:
        width = 100.0 * getattr(row, key) / total
        if width:
            segments.append(Segment(round(x, 2), round(width, 2), key))
            x += width
    return segments


_BAR_OPEN = (
    '<svg class="bar" viewBox="0 0 100 12" width="100" height="12" role="img" '
    'aria-label="%s" preserveAspectRatio="none">'
    '<rect x="0" y="0" width="100" height="12" class="s-track"/>'
)
_SEGMENT = '<rect x="%s" y="0" width="%s" height="12" class="s-%s"/>'


def bar_svg(segments: list[Segment], label: str) -> Markup:
    """A stacked bar as inline SVG, ``label`` (plain text) escaped into its ``aria-label``.

    Drawn here rather than by a template macro: the scorecard draws one per ministry,
    and a macro call per row cost more than the rest of the row.
    """
    parts = [_BAR_OPEN % escape(label)]
    # Segment keys are status words and the numbers are floats: nothing to escape.
    parts.extend(_SEGMENT % s for s in segments)
    parts.append("</svg>")
    return Markup("".join(parts))


def _percent(value: float | None) -> str:
    # A mean over no commitment is null: shown as a dash, never as 0 %.
    return "—" if value is None else f"{value}%"


# One scorecard row, as the template drew it before the rows moved here.
_MINISTRY_ROW = (
    "  <tr>\n"
    '    <th scope="row"><a href="/ministries/%s"><abbr title="%s">%s</abbr></a></th>\n'
    "    <td>%s</td>\n"
    '    <td>%s <span class="small">%s</span></td>\n'
    "    <td>%s</td>\n"
    "    <td>%s</td>\n"
    "    <td>%s</td>\n"
    "    <td>%s</td>\n"
    "  </tr>\n"
)


def ministry_rows(rows: list[MinistryRow], lang: str) -> Markup:
    """The scorecard's ministry table rows (bar, label and mean per row), in ``lang``.

    One string for all of them: at 500 ministries a template loop cost two
    escapes per cell and a bar object per row, more than the figures' own reading.
    Names and codes are escaped here; every other cell is a number or a dash.
    """
    done_of = i18n.gettext(lang, "%(done)s of %(led)s completed")
    done_of_mean = i18n.gettext(lang, "%(done)s of %(led)s completed, mean progress %(mean)s%%")
    out = []
    for row in rows:
        led = row.commitments_led
        mean = row.mean_progress_percent
        values = {"done": row.completed, "led": led}
        label = done_of % values if mean is None else done_of_mean % {**values, "mean": mean}
        days = row.days_since_last_update
        out.append(
            _MINISTRY_ROW
            % (
                row.ministry_id,
                escape(row.ministry_name),
                escape(row.ministry_code),
                led,
                bar_svg(progress_bar(row), label),
                _percent(mean),
                row.completed,
                row.overdue,
                row.contested,
                "—" if days is None else days,
            )
        )
    return Markup("".join(out))


@dataclass(frozen=True)
class Column:
    label: str
    period_start: date
    x: float
    updates: int
    bar_height: float
    completed: int
    point_y: float


@dataclass(frozen=True)
class TimelineChart:
    columns: list[Column]
    width: float
    height: float
    base: float
    column_width: float
    line: str
    max_updates: int
    max_completed: int


def timeline_chart(rows: list[TimelineRow]) -> TimelineChart:
    """Updates posted per quarter as columns; completions (cumulative) as a line."""
    rows = rows[-12:]  # three years fit a phone's width
    # Room above the tallest column for its label.
    step, plot, base = 40.0, 110.0, 130.0
    max_updates = max((r.updates_posted for r in rows), default=0) or 1
    max_completed = max((r.commitments_completed_cumulative for r in rows), default=0) or 1
    columns = []
    for i, r in enumerate(rows):
        quarter = (r.period_start.month - 1) // 3 + 1
        height = plot * r.updates_posted / max_updates
        columns.append(
            Column(
                label=f"Q{quarter} {r.period_start.year}",
                period_start=r.period_start,
                x=10 + i * step,
                updates=r.updates_posted,
                bar_height=round(height, 2),
                completed=r.commitments_completed_cumulative,
                point_y=round(base - plot * r.commitments_completed_cumulative / max_completed, 2),
            )
        )
    line = " ".join(f"{c.x + step / 4:.1f},{c.point_y:.1f}" for c in columns)
    return TimelineChart(
        columns=columns,
        width=20 + len(rows) * step,
        height=base + 30,
        base=base,
        column_width=step / 2,
        line=line,
        max_updates=max_updates if rows else 0,
        max_completed=max_completed if rows else 0,
    )
