"""The SVG drawn in Python: escaped labels, the bar's segments, the scorecard's rows."""

from __future__ import annotations

from vpitracker import i18n
from vpitracker.progress.schemas import MinistryRow
from vpitracker.web import charts


def _row(**figures: int | float | None) -> MinistryRow:
    base: dict[str, int | float | None] = {
        "not_started": 0,
        "in_progress": 0,
        "completed": 0,
        "stalled": 0,
        "cancelled": 0,
        "overdue": 0,
        "stale": 0,
        "contested": 0,
        "mean_progress_percent": None,
    }
    base.update(figures)
    led = sum(int(base[k] or 0) for k in charts.STATUS_KEYS)
    return MinistryRow(
        ministry_id=7,
        ministry_code="MOI",
        ministry_name="Interior",
        commitments_led=led,
        commitments_supporting=0,
        days_since_last_update=None,
        **base,
    )


class TestBarSvg:
    def test_the_label_is_escaped_text(self) -> None:
        svg = charts.bar_svg([], '<script>alert("x")</script> & more')
        assert "<script>" not in svg
        assert 'aria-label="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more"' in svg

    def test_one_rect_per_segment_after_the_track(self) -> None:
        row = _row(completed=1, in_progress=3)
        svg = str(charts.bar_svg(charts.progress_bar(row), "label"))
        assert svg.count("<rect ") == 3
        assert svg.index('class="s-track"') < svg.index('class="s-in_progress"')
        assert 'x="0.0" y="0" width="75.0" height="12" class="s-in_progress"' in svg
        assert 'x="75.0" y="0" width="25.0" height="12" class="s-completed"' in svg


class TestMinistryRows:
    def test_the_label_is_in_the_page_language_with_the_mean(self) -> None:
        row = _row(completed=2, stalled=2, mean_progress_percent=62.5)
        for lang in i18n.SUPPORTED:
            html = str(charts.ministry_rows([row], lang))
            wanted = i18n.gettext(
                lang, "%(done)s of %(led)s completed, mean progress %(mean)s%%"
            ) % {"done": 2, "led": 4, "mean": 62.5}
            assert f'aria-label="{wanted}"' in html
            assert '</svg> <span class="small">62.5%</span></td>' in html
            # led, the bar, completed, overdue, contested, days since the last update
            assert html.count("<td>") == 6
            assert html.endswith("<td>—</td>\n  </tr>\n")

    def test_no_mean_is_a_dash_not_zero(self) -> None:
        html = str(charts.ministry_rows([_row()], "en"))
        assert html.count("<rect ") == 1  # the track alone
        assert '</svg> <span class="small">—</span></td>' in html

    def test_one_row_per_ministry_its_name_and_code_escaped(self) -> None:
        rows = [
            _row(completed=1).model_copy(
                update={"ministry_id": n, "ministry_code": f"M&{n}", "ministry_name": '<b>"x"</b>'}
            )
            for n in (3, 9)
        ]
        html = str(charts.ministry_rows(rows, "en"))
        assert html.count("<tr>") == 2
        assert "<b>" not in html
        assert (
            '<a href="/ministries/9"><abbr title="&lt;b&gt;&#34;x&#34;&lt;/b&gt;">M&amp;9</abbr>'
            in html
        )
        assert html.index('href="/ministries/3"') < html.index('href="/ministries/9"')
