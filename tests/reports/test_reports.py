"""Flat reports and CSV for dashboards (docs/concepts.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import make_assessment, make_recommendation, make_update, pk
from tests.scenarios import Scenario, make_scenario
from vpitracker.config import Settings
from vpitracker.models import Commitment

COMMITMENT_COLUMNS = [
    "id",
    "code",
    "title",
    "lead_ministry_code",
    "lead_ministry_name",
    "supporting_ministry_codes",
    "recommendation_codes",
    "committed_on",
    "due_date",
    "reported_status",
    "progress_percent",
    "last_reported_at",
    "verdict",
    "contested",
    "overdue",
    "stale",
]
RECOMMENDATION_COLUMNS = [
    "id",
    "code",
    "title",
    "source",
    "source_date",
    "priority",
    "government_response",
    "provision_keys",
    "clusters",
    "instruments",
    "commitments",
    "implementation",
]
STATUS_HISTORY_COLUMNS = [
    "id",
    "commitment_id",
    "commitment_code",
    "ministry_code",
    "status",
    "progress_percent",
    "summary",
    "reported_by",
    "reported_at",
    "in_reply_to_assessment_id",
    "evidence_urls",
]
REPORTS = {
    "commitments": COMMITMENT_COLUMNS,
    "recommendations": RECOMMENDATION_COLUMNS,
    "status-history": STATUS_HISTORY_COLUMNS,
}
SUMMARY_COLUMNS = [
    "as_of",
    "commitments",
    *(
        f"by_reported_status.{s}"
        for s in ("not_started", "in_progress", "completed", "stalled", "cancelled")
    ),
    *(
        f"by_verdict.{v}"
        for v in ("unassessed", "agrees", "partially_agrees", "disputes", "insufficient_evidence")
    ),
    "overdue",
    "stale",
    "contested",
    "percent_completed",
    "mean_progress_percent",
    "recommendations",
    *(
        f"by_implementation.{i}"
        for i in ("no_commitment", "not_started", "in_progress", "completed")
    ),
]
FORMULA = '=HYPERLINK("http://x","y")'
DATETIME_COLUMNS = {"last_reported_at", "reported_at"}


def parse_csv(response: Response) -> list[dict[str, str]]:
    """Rows of an RFC 4180 body: CRLF after every record, standard quoting, one header."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv"), response.headers
    text = response.text
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    again = io.StringIO()
    csv.writer(again, lineterminator="\r\n").writerows(records)
    assert again.getvalue() == text  # CRLF terminators and minimal RFC 4180 quoting
    header, *rows = records
    assert len(set(header)) == len(header)
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def header_of(response: Response) -> list[str]:
    return next(csv.reader(io.StringIO(response.text, newline="")))


def spreadsheet_cell(value: Any) -> str:
    """What a JSON value must look like in the CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_same_row(json_row: Mapping[str, Any], csv_row: Mapping[str, str]) -> None:
    assert list(csv_row) == list(json_row)
    for column, value in json_row.items():
        if column in DATETIME_COLUMNS and value is not None:
            assert csv_row[column].endswith("Z"), csv_row
            assert instant(csv_row[column]) == instant(value), column
        else:
            assert csv_row[column] == spreadsheet_cell(value), (column, csv_row, json_row)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class World:
    """A random scenario plus hand-made rows whose text a spreadsheet would run."""

    def __init__(
        self, client: TestClient, session: Session, settings: Settings, scenario: Scenario
    ) -> None:
        self.client = client
        self.session = session
        self.s = scenario
        self.headers = auth(settings, scenario.member)
        m0, m1, m2, _ = scenario.ministries
        self.formula_rec = make_recommendation(
            session,
            title="+SUM(A1:A9)",
            source="@VPI plenary",
            source_date=date(2023, 5, 1),
            provision_keys=["UNTOC-5", "TIP-6", "FIREARMS-8"],
        )
        body = {
            "code": "GOK-FORMULA-1",
            "title": FORMULA,
            "description": "Created over the API",
            "lead_ministry_id": m0.id,
            "supporting_ministry_ids": [m2.id, m1.id],
            "recommendation_ids": [self.formula_rec.id, scenario.recommendations[0].id],
            "committed_on": "2024-02-01",
            "due_date": "2024-03-31",
            "indicator": "Bill enacted",
        }
        r = client.post("/v1/commitments", json=body, headers=auth(settings, scenario.secretariat))
        assert r.status_code == 201, r.text
        self.formula_id: int = r.json()["id"]
        formula = session.get(Commitment, self.formula_id)
        assert formula is not None
        self.formula: Commitment = formula
        self.formula_update = make_update(
            session,
            formula,
            by=scenario.officer,
            at=datetime(2024, 2, 10, 9, 30, tzinfo=UTC),
            status="in_progress",
            progress=40,
            summary='-1 day late, "as promised", then\nstalled',
            evidence=[
                {"url": "https://example.org/a", "title": "A"},
                {"url": "https://example.org/b", "title": "B"},
            ],
        )
        make_assessment(
            session,
            formula,
            by=scenario.member,
            at=datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
            verdict="disputes",
        )

    def get(self, path: str, headers: Mapping[str, str] | None = None, **params: Any) -> Response:
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        return self.client.get(path, params=query, headers={**self.headers, **(headers or {})})

    def json(self, path: str, **params: Any) -> Any:
        r = self.get(path, **params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        return r.json()

    def csv(self, path: str, **params: Any) -> list[dict[str, str]]:
        return parse_csv(self.get(path, format="csv", **params))


@pytest.fixture
def world(client: TestClient, session: Session, settings: Settings) -> World:
    return World(client, session, settings, make_scenario(session, 11))


class TestColumns:
    @pytest.mark.parametrize("report", list(REPORTS))
    def test_json_keys_and_csv_header_are_the_design_columns_in_order(
        self, world: World, report: str
    ) -> None:
        rows = world.json(f"/v1/reports/{report}")
        response = world.get(f"/v1/reports/{report}", format="csv")

        assert isinstance(rows, list)
        assert rows
        assert all(list(row) == REPORTS[report] for row in rows)
        assert header_of(response) == REPORTS[report]

    @pytest.mark.parametrize("report", list(REPORTS))
    def test_an_empty_report_still_has_its_header(
        self, client: TestClient, session: Session, settings: Settings, report: str
    ) -> None:
        scenario = make_scenario(session, 1, recommendations=0, commitments=0)
        headers = auth(settings, scenario.member)
        r = client.get(f"/v1/reports/{report}", params={"as_of": "2001-01-01"}, headers=headers)
        csv_r = client.get(
            f"/v1/reports/{report}",
            params={"as_of": "2001-01-01", "format": "csv"},
            headers=headers,
        )

        assert r.json() == []
        assert parse_csv(csv_r) == []
        assert header_of(csv_r) == REPORTS[report]


class TestCsv:
    @pytest.mark.parametrize("report", list(REPORTS))
    def test_csv_rows_are_the_json_rows(self, world: World, report: str) -> None:
        json_rows = world.json(f"/v1/reports/{report}")
        csv_rows = world.csv(f"/v1/reports/{report}")

        assert len(csv_rows) == len(json_rows)
        for json_row, csv_row in zip(json_rows, csv_rows, strict=True):
            assert_same_row(json_row, csv_row)

    @pytest.mark.parametrize("report", list(REPORTS))
    def test_accept_header_and_format_parameter_both_give_csv(
        self, world: World, report: str
    ) -> None:
        path = f"/v1/reports/{report}"
        by_accept = world.get(path, headers={"Accept": "text/csv"})
        by_param = world.get(path, format="csv")
        by_default = world.get(path)
        asked_json = world.get(path, headers={"Accept": "application/json"})

        assert parse_csv(by_accept) == parse_csv(by_param)
        assert by_default.headers["content-type"].startswith("application/json")
        assert asked_json.headers["content-type"].startswith("application/json")
        assert by_default.json() == asked_json.json()

    def test_booleans_are_true_and_false(self, world: World) -> None:
        rows = world.csv("/v1/reports/commitments")

        for flag in ("contested", "overdue", "stale"):
            assert {row[flag] for row in rows} == {"true", "false"}, flag

    def test_lists_are_joined_with_semicolon_space(self, world: World) -> None:
        m0, m1, m2, _ = world.s.ministries
        commitment = next(
            r for r in world.json("/v1/reports/commitments") if r["id"] == world.formula_id
        )
        rec = next(
            r for r in world.json("/v1/reports/recommendations") if r["id"] == world.formula_rec.id
        )
        update = next(
            r
            for r in world.json("/v1/reports/status-history")
            if r["id"] == world.formula_update.id
        )

        assert commitment["lead_ministry_code"] == m0.code
        assert commitment["lead_ministry_name"] == m0.name
        assert commitment["supporting_ministry_codes"].split("; ") == sorted([m1.code, m2.code])
        assert sorted(commitment["recommendation_codes"].split("; ")) == sorted(
            [world.formula_rec.code, world.s.recommendations[0].code]
        )
        assert rec["provision_keys"].split("; ") == sorted(["UNTOC-5", "TIP-6", "FIREARMS-8"])
        assert set(rec["instruments"].split("; ")) == {
            "untoc",
            "trafficking_protocol",
            "firearms_protocol",
        }
        clusters = {world.s.provisions[k].cluster for k in ("UNTOC-5", "TIP-6", "FIREARMS-8")}
        expected_clusters = sorted(str(c) for c in clusters if c is not None)
        assert rec["clusters"] == "; ".join(expected_clusters)
        assert rec["commitments"] == "GOK-FORMULA-1"
        assert update["evidence_urls"] == "https://example.org/a; https://example.org/b"

    def test_formulas_are_neutralized_in_csv_and_kept_in_json(self, world: World) -> None:
        json_commitment = next(
            r for r in world.json("/v1/reports/commitments") if r["id"] == world.formula_id
        )
        csv_commitment = next(
            r for r in world.csv("/v1/reports/commitments") if r["id"] == str(world.formula_id)
        )
        csv_rec = next(
            r
            for r in world.csv("/v1/reports/recommendations")
            if r["id"] == str(world.formula_rec.id)
        )
        csv_update = next(
            r
            for r in world.csv("/v1/reports/status-history")
            if r["id"] == str(world.formula_update.id)
        )

        assert json_commitment["title"] == FORMULA
        assert csv_commitment["title"] == "'" + FORMULA
        assert csv_rec["title"] == "'+SUM(A1:A9)"
        assert csv_rec["source"] == "'@VPI plenary"
        # Commas, quotes and a line break survive the round trip through the csv module.
        assert csv_update["summary"] == '\'-1 day late, "as promised", then\nstalled'

    def test_full_width_signs_and_a_leading_pipe_are_neutralized_too(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        # Spreadsheets fold the full-width = + - @ (U+FF1D...) to ASCII; some run "|" as DDE.
        texts = ["\uff1dHYPERLINK(1)", "\uff0b1", "\uff0d1", "\uff20SUM(1)", "|calc!A1"]
        scenario = make_scenario(session, 1, recommendations=0, commitments=0)
        made = {
            pk(
                make_recommendation(session, title=text, source=text, provision_keys=["TIP-6"])
            ): text
            for text in texts
        }
        r = client.get(
            "/v1/reports/recommendations",
            params={"format": "csv"},
            headers=auth(settings, scenario.member),
        )
        rows = {int(row["id"]): row for row in parse_csv(r)}

        for rec_id, text in made.items():
            assert (rows[rec_id]["title"], rows[rec_id]["source"]) == ("'" + text, "'" + text)

    def test_a_row_carries_the_commitments_derived_state(self, world: World) -> None:
        def row(**params: Any) -> dict[str, Any]:
            rows = world.json("/v1/reports/commitments", **params)
            found: dict[str, Any] = next(r for r in rows if r["id"] == world.formula_id)
            return found

        before_update = row(as_of="2024-02-09")
        after_due = row(as_of="2024-04-01")
        later = row(as_of="2024-06-01")

        assert (before_update["reported_status"], before_update["progress_percent"]) == (
            "not_started",
            0,
        )
        assert before_update["last_reported_at"] is None
        assert (before_update["overdue"], before_update["verdict"]) == (False, "unassessed")
        assert after_due["last_reported_at"] == "2024-02-10T09:30:00Z"
        assert (after_due["reported_status"], after_due["progress_percent"]) == ("in_progress", 40)
        assert (after_due["committed_on"], after_due["due_date"]) == ("2024-02-01", "2024-03-31")
        assert (after_due["overdue"], after_due["stale"]) == (True, False)
        assert (after_due["verdict"], after_due["contested"]) == ("disputes", True)
        # 2024-02-10 09:30 + 90 days = 2024-05-10 09:30: stale by 2024-06-01.
        assert (later["overdue"], later["stale"], later["verdict"]) == (True, True, "disputes")

    def test_report_rows_agree_with_the_commitment_list(self, world: World) -> None:
        for as_of in (None, "2024-09-30"):
            params = {"as_of": as_of} if as_of else {}
            report = {r["id"]: r for r in world.json("/v1/reports/commitments", **params)}
            listed = world.json("/v1/commitments", limit=1000, **params)["items"]

            assert set(report) == {c["id"] for c in listed}
            for c in listed:
                r = report[c["id"]]
                for field in (
                    "code",
                    "title",
                    "committed_on",
                    "due_date",
                    "reported_status",
                    "progress_percent",
                    "last_reported_at",
                    "verdict",
                    "contested",
                    "overdue",
                    "stale",
                ):
                    assert r[field] == c[field], (field, as_of)


class TestAsOf:
    @pytest.mark.parametrize("as_of", [date(2023, 6, 30), date(2024, 1, 31), date(2025, 2, 28)])
    def test_later_records_are_left_out(self, world: World, as_of: date) -> None:
        end_of_day = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
        commitments = {r["id"] for r in world.json("/v1/reports/commitments", as_of=as_of)}
        csv_commitments = {int(r["id"]) for r in world.csv("/v1/reports/commitments", as_of=as_of)}
        recs = {r["id"] for r in world.json("/v1/reports/recommendations", as_of=as_of)}
        history = world.json("/v1/reports/status-history", as_of=as_of)

        every = {c.id: c for c in [*world.s.commitments, world.formula]}
        assert commitments == {
            c.id for c in every.values() if c.archived_at is None and c.committed_on <= as_of
        }
        assert csv_commitments == commitments
        assert recs == {
            r.id
            for r in [*world.s.recommendations, world.formula_rec]
            if r.archived_at is None and (r.source_date is None or r.source_date <= as_of)
        }
        reported = [
            u for u in [*world.s.updates, world.formula_update] if u.reported_at < end_of_day
        ]
        on_live_commitments = {u.id for u in reported if every[u.commitment_id].archived_at is None}
        # Updates of archived commitments may or may not be part of the history.
        assert on_live_commitments <= {r["id"] for r in history} <= {u.id for u in reported}
        assert [(instant(r["reported_at"]), r["id"]) for r in history] == sorted(
            (instant(r["reported_at"]), r["id"]) for r in history
        )

    def test_a_recommendation_lists_only_commitments_made_by_then(self, world: World) -> None:
        def row(as_of: str) -> dict[str, Any]:
            rows = world.json("/v1/reports/recommendations", as_of=as_of)
            found: dict[str, Any] = next(r for r in rows if r["id"] == world.formula_rec.id)
            return found

        # The commitment answering it was made on 2024-02-01.
        assert (row("2024-01-31")["commitments"], row("2024-01-31")["implementation"]) == (
            "",
            "no_commitment",
        )
        assert (row("2024-02-01")["commitments"], row("2024-02-01")["implementation"]) == (
            "GOK-FORMULA-1",
            "not_started",
        )
        assert row("2024-03-01")["implementation"] == "in_progress"


class TestCommitmentFilters:
    def test_structural_filters_select_the_expected_commitments(self, world: World) -> None:
        s = world.s
        live = [c for c in [*s.commitments, world.formula] if c.archived_at is None]
        supporting = {**s.supporting, world.formula_id: [pk(m) for m in s.ministries[1:3]]}
        rec_links = {
            **s.rec_links,
            world.formula_id: [pk(world.formula_rec), pk(s.recommendations[0])],
        }
        keys = {**s.rec_provisions, pk(world.formula_rec): ["UNTOC-5", "TIP-6", "FIREARMS-8"]}

        def provisions(c: Commitment) -> list[Any]:
            return [s.provisions[k] for r in rec_links[c.id or 0] for k in keys[r]]

        m = s.ministries[0].id
        rec = s.recommendations[0].id
        cases: list[tuple[dict[str, Any], set[int | None]]] = [
            ({"lead_ministry_id": m}, {c.id for c in live if c.lead_ministry_id == m}),
            (
                {"ministry_id": m},
                {c.id for c in live if c.lead_ministry_id == m or m in supporting[c.id or 0]},
            ),
            ({"recommendation_id": rec}, {c.id for c in live if rec in rec_links[c.id or 0]}),
            ({"due_before": "2025-01-01"}, {c.id for c in live if c.due_date < date(2025, 1, 1)}),
            ({"due_after": "2025-06-30"}, {c.id for c in live if c.due_date > date(2025, 6, 30)}),
            (
                {"cluster": 2},
                {c.id for c in live if any(p.cluster == 2 for p in provisions(c))},
            ),
            (
                {"instrument": "trafficking_protocol"},
                {
                    c.id
                    for c in live
                    if any(p.instrument == "trafficking_protocol" for p in provisions(c))
                },
            ),
            (
                {"include_archived": True},
                {c.id for c in [*s.commitments, world.formula]},
            ),
        ]
        for params, expected in cases:
            got = {r["id"] for r in world.json("/v1/reports/commitments", **params)}
            got_csv = {int(r["id"]) for r in world.csv("/v1/reports/commitments", **params)}
            assert expected, params  # a filter that selects nothing proves nothing
            assert got == expected, params
            assert got_csv == expected, params

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("reported_status", "in_progress"),
            ("reported_status", "not_started"),
            ("verdict", "disputes"),
            ("contested", True),
            ("overdue", True),
            ("overdue", False),
            ("stale", True),
        ],
    )
    @pytest.mark.parametrize("as_of", [None, "2024-10-15"])
    def test_derived_state_filters_keep_the_matching_rows(
        self, world: World, field: str, value: Any, as_of: str | None
    ) -> None:
        dated = {"as_of": as_of} if as_of else {}
        everything = world.json("/v1/reports/commitments", **dated)
        expected = [r for r in everything if r[field] == value]

        filtered = world.json("/v1/reports/commitments", **dated, **{field: value})

        assert filtered == expected

    def test_a_bad_filter_is_a_problem_not_a_report(self, world: World) -> None:
        r = world.get("/v1/reports/commitments", format="csv", reported_status="finished")

        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


class TestProgressCsv:
    def test_summary_is_one_row_of_flattened_columns(self, world: World) -> None:
        summary = world.json("/v1/progress/summary", as_of="2025-01-31")
        response = world.get("/v1/progress/summary", format="csv", as_of="2025-01-31")

        assert header_of(response) == SUMMARY_COLUMNS
        [row] = parse_csv(response)
        assert_same_row(flatten(summary), row)
        assert row["as_of"] == "2025-01-31"

    @pytest.mark.parametrize("figures", ["ministries", "clusters", "instruments", "timeline"])
    @pytest.mark.parametrize("params", [{}, {"as_of": "2024-10-15", "instrument": "untoc"}])
    def test_rows_are_the_json_items(
        self, world: World, figures: str, params: dict[str, str]
    ) -> None:
        items = world.json(f"/v1/progress/{figures}", **params)["items"]
        by_param = parse_csv(world.get(f"/v1/progress/{figures}", None, format="csv", **params))
        by_accept = parse_csv(
            world.get(f"/v1/progress/{figures}", headers={"Accept": "text/csv"}, **params)
        )

        assert items
        assert by_accept == by_param
        assert len(by_param) == len(items)
        for item, row in zip(items, by_param, strict=True):
            assert_same_row(flatten(item), row)

    def test_progress_cells_are_neutralized_too(self, world: World, session: Session) -> None:
        world.s.ministries[0].name = "=1+1 Ministry"
        session.add(world.s.ministries[0])
        session.commit()

        rows = world.csv("/v1/progress/ministries")

        names = {r["ministry_code"]: r["ministry_name"] for r in rows}
        assert names[world.s.ministries[0].code] == "'=1+1 Ministry"
