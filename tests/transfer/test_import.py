"""Import: good CSV and XLSX files, edits through the services, all-or-nothing, re-import."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tests.assertions import row_counts
from tests.transfer.helpers import (
    IMPORT_ORDER,
    SAMPLES,
    TABLES,
    build_world,
    commitment_row,
    create_user,
    csv_file,
    ministry_row,
    recommendation_row,
    run,
)
from vpitracker import cli, migrate
from vpitracker.audit import service as audit_service
from vpitracker.db import make_engine, unit_of_work
from vpitracker.kernel.actor import Actor
from vpitracker.ministries import repository as ministries_repository
from vpitracker.models import (
    Assessment,
    AuditEvent,
    Commitment,
    Ministry,
    StatusUpdate,
)
from vpitracker.recommendations import repository as recommendations_repository
from vpitracker.transfer import export, service
from vpitracker.transfer.planners import common
from vpitracker.transfer.schemas import ExportFormat, Kind, column_names
from vpitracker.vocab import Role


@pytest.fixture
def operator(session: Session) -> Actor:
    return create_user(session, "operator@example.org", Role.secretariat)


def _ministry(session: Session, code: str) -> Ministry:
    ministry = ministries_repository.by_code(session, code)
    assert ministry is not None
    return ministry


def _events(session: Session, after: int) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(col(AuditEvent.seq) > after).order_by(col(AuditEvent.seq))
    return list(session.exec(stmt).all())


def _head(session: Session) -> int:
    return len(session.exec(select(AuditEvent)).all())


def _rejected(session: Session, actor: Actor, kind: Kind, data: bytes) -> list[Any]:
    """Import ``data`` expecting a refusal; returns the errors as (loc, msg) pairs."""
    with pytest.raises(service.ImportRejected) as caught:
        run(session, actor, kind, data)
    return [(e.loc, e.msg) for e in caught.value.report.errors]


class TestGoodFiles:
    def test_csv_creates_ministries_whatever_the_order_of_parents(
        self, session: Session, operator: Actor
    ) -> None:
        before = _head(session)
        data = csv_file(
            Kind.ministries,
            [
                ministry_row("SDICS", kind="state_department", parent_code="MOI"),
                ministry_row("MOI", contact_email="info@interior.go.ke"),
                ministry_row("NPS", kind="agency"),
            ],
        )
        report = run(session, operator, Kind.ministries, data)
        assert report.created == ["SDICS", "MOI", "NPS"]
        assert report.counts.model_dump() == {"created": 3, "updated": 0, "unchanged": 0}
        assert _ministry(session, "SDICS").parent_id == _ministry(session, "MOI").id
        assert _ministry(session, "MOI").contact_email == "info@interior.go.ke"
        events = _events(session, before)
        assert [e.action for e in events] == ["ministry.created"] * 3
        assert {e.actor_id for e in events} == {operator.id}

    def test_xlsx_creates_recommendations(self, session: Session, operator: Actor) -> None:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = "recommendations"
        sheet.append(column_names(Kind.recommendations))
        sheet.append(
            [
                "VPI-TIP-01",
                "Make the National Referral Mechanism work",
                "Adopt SOPs for the NRM",
                "VPI Kenya, TiP working group",
                datetime(2024, 3, 14),  # a real date cell, as Excel saves it
                "HAART Kenya; Trace Kenya",
                "TIP-6;UNTOC-25",
                "high",
                "supported",
                None,
            ]
        )
        buffer = io.BytesIO()
        workbook.save(buffer)
        parsed = service.read_file(Kind.recommendations, buffer.getvalue(), "recs.xlsx")
        report = service.run_import(session, operator, parsed)
        assert report.created == ["VPI-TIP-01"]
        rec = recommendations_repository.by_code(session, "VPI-TIP-01")
        assert rec is not None
        assert rec.id is not None
        assert rec.source_date == date(2024, 3, 14)
        assert rec.raised_by == ["HAART Kenya", "Trace Kenya"]
        assert rec.priority == "high"
        linked = recommendations_repository.provisions_of(session, [rec.id])[rec.id]
        assert [key for key, _ in linked] == ["TIP-6", "UNTOC-25"]

    def test_commitments_name_their_ministries_and_recommendations_by_code(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [
            ministry_row("CTIPS"), ministry_row("MOLSP"), ministry_row("NPS"),
        ]))  # fmt: skip
        run(session, operator, Kind.recommendations, csv_file(Kind.recommendations, [
            recommendation_row("VPI-TIP-01"), recommendation_row("VPI-VS-01"),
        ]))  # fmt: skip
        data = csv_file(
            Kind.commitments,
            [
                commitment_row(
                    "GOK-C-01",
                    "CTIPS",
                    supporting_ministry_codes="MOLSP; NPS",
                    recommendation_codes="VPI-TIP-01; VPI-VS-01",
                )
            ],
        )
        assert run(session, operator, Kind.commitments, data).created == ["GOK-C-01"]
        exported = list(export.export_rows(session, Kind.commitments))
        row = next(r for r in exported if r["code"] == "GOK-C-01")
        assert row["lead_ministry_code"] == "CTIPS"
        assert row["supporting_ministry_codes"] == ["MOLSP", "NPS"]
        assert row["recommendation_codes"] == ["VPI-TIP-01", "VPI-VS-01"]
        assert row["committed_on"] == date(2024, 4, 15)

    def test_status_updates_and_assessments_keep_their_times_and_are_audited_as_imported(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [ministry_row("CT")]))
        run(session, operator, Kind.commitments, csv_file(Kind.commitments, [
            commitment_row("GOK-C-01", "CT"),
        ]))  # fmt: skip
        officer = create_user(
            session,
            "joseph@example.org",
            Role.government_officer,
            [_ministry(session, "CT").id or 0],
        )
        member = create_user(session, "amina@example.org", Role.alliance_member)
        before = _head(session)
        assessments = csv_file(Kind.assessments, [{
            "commitment_code": "GOK-C-01", "assessed_by_email": "AMINA@example.org",
            "assessed_at": "2025-03-05T14:20:00Z", "verdict": "disputes",
            "assessed_status": "in_progress", "rationale": "No focal point in Mombasa",
        }])  # fmt: skip
        assert run(session, operator, Kind.assessments, assessments).counts.created == 1
        updates = csv_file(Kind.status_updates, [{
            "commitment_code": "GOK-C-01", "ministry_code": "CT",
            "reported_by_email": "joseph@example.org", "reported_at": "2025-04-14 09:40",
            "status": "in_progress", "progress_percent": "45", "summary": "Lists shared",
            "evidence_urls": "https://example.org/a.pdf; http://example.org/b",
            "in_reply_to": "2025-03-05T14:20:00Z",
        }, {
            "commitment_code": "GOK-C-01", "ministry_code": "CT",
            "reported_by_email": "joseph@example.org", "reported_at": "2025-02-10T10:05:00Z",
            "status": "in_progress", "progress_percent": "40", "summary": "Training started",
        }])  # fmt: skip
        report = run(session, operator, Kind.status_updates, updates)
        assert report.created == ["GOK-C-01@2025-04-14T09:40:00Z", "GOK-C-01@2025-02-10T10:05:00Z"]
        stored = session.exec(select(StatusUpdate).order_by(col(StatusUpdate.id))).all()
        # Written in time order, whatever the order of the rows.
        assert [u.reported_at for u in stored] == [
            datetime(2025, 2, 10, 10, 5, tzinfo=UTC),
            datetime(2025, 4, 14, 9, 40, tzinfo=UTC),
        ]
        assert {u.reported_by for u in stored} == {officer.id}
        assert all(u.imported for u in stored)
        assert stored[1].in_reply_to_assessment_id is not None
        assert [e["url"] for e in stored[1].evidence] == [
            "https://example.org/a.pdf",
            "http://example.org/b",
        ]
        events = _events(session, before)
        assert [e.action for e in events] == [
            "assessment.imported",
            "status_update.imported",
            "status_update.imported",
        ]
        # The operator who ran the import is the audit actor; the rows name their authors.
        assert {e.actor_id for e in events} == {operator.id}
        assessment = session.exec(select(Assessment)).one()
        assert assessment.assessed_by == member.id
        assert audit_service.verify(session).ok


class TestEdits:
    def test_a_changed_row_is_edited_through_the_service_and_audited(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.recommendations, csv_file(Kind.recommendations, [
            recommendation_row("VPI-1"), recommendation_row("VPI-2"),
        ]))  # fmt: skip
        before = _head(session)
        data = csv_file(Kind.recommendations, [
            recommendation_row("VPI-1", title="A sharper title", provision_keys="TIP-6"),
            recommendation_row("VPI-2"),
        ])  # fmt: skip
        report = run(session, operator, Kind.recommendations, data)
        assert (report.updated, report.unchanged) == (["VPI-1"], ["VPI-2"])
        rec = recommendations_repository.by_code(session, "VPI-1")
        assert rec is not None
        assert (rec.title, rec.version) == ("A sharper title", 2)
        [event] = _events(session, before)
        assert event.action == "recommendation.updated"
        assert json.loads(event.data) == {
            "title": {"old": "Recommendation VPI-1", "new": "A sharper title"},
            "provision_keys": {"old": ["TIP-6", "UNTOC-25"], "new": ["TIP-6"]},
        }

    def test_ministry_parents_can_be_swapped_in_one_file(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [
            ministry_row("A"), ministry_row("B", parent_code="A"),
        ]))  # fmt: skip
        swapped = csv_file(Kind.ministries, [
            ministry_row("A", parent_code="B"), ministry_row("B"),
        ])  # fmt: skip
        assert run(session, operator, Kind.ministries, swapped).updated == ["A", "B"]
        assert _ministry(session, "A").parent_id == _ministry(session, "B").id
        assert _ministry(session, "B").parent_id is None

    def test_a_record_edited_elsewhere_during_the_import_is_not_overwritten(
        self, session: Session, operator: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [ministry_row("A")]))
        reload = common.reload

        def edited_meanwhile(s: Session, row: Any) -> None:
            # Another writer commits an edit between the checks and this import's edit.
            s.execute(
                update(Ministry)
                .where(col(Ministry.code) == "A")
                .values(name="Edited elsewhere", version=Ministry.version + 1)
            )
            reload(s, row)

        monkeypatch.setattr(common, "reload", edited_meanwhile)
        data = csv_file(Kind.ministries, [ministry_row("A", name="From the file")])
        errors = _rejected(session, operator, Kind.ministries, data)
        assert [loc for loc, _ in errors] == [[2]]
        assert "changed since you read it" in errors[0][1]
        assert _ministry(session, "A").name == "Edited elsewhere"


class TestNothingWritten:
    def test_one_bad_row_in_the_middle_writes_nothing(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [ministry_row("CT")]))
        counts = row_counts(session, *TABLES)
        rows = [commitment_row(f"GOK-C-{i}", "CT") for i in range(1, 6)]
        rows[2]["lead_ministry_code"] = "NOPE"
        errors = _rejected(session, operator, Kind.commitments, csv_file(Kind.commitments, rows))
        assert errors == [([4, "lead_ministry_code"], "unknown ministry code(s): NOPE")]
        assert row_counts(session, *TABLES) == counts

    @pytest.mark.parametrize(
        ("change", "column", "message"),
        [
            ({"source_date": "14/03/2024"}, "source_date", "is not a date written YYYY-MM-DD"),
            ({"provision_keys": "TIP-6; TIP-999"}, "provision_keys", "TIP-999"),
            ({"title": "x" * 501}, "title", "at most 500 characters"),
            ({"priority": "urgent"}, "priority", "'high', 'medium' or 'low'"),
            ({"text": ""}, "text", "a value is required"),
            ({"code": "has space"}, "code", "should match pattern"),
        ],
    )
    def test_each_mistake_is_named_by_row_and_column(
        self,
        session: Session,
        operator: Actor,
        change: dict[str, str],
        column: str,
        message: str,
    ) -> None:
        counts = row_counts(session, *TABLES)
        rows = [recommendation_row("VPI-1"), {**recommendation_row("VPI-2"), **change}]
        errors = _rejected(
            session, operator, Kind.recommendations, csv_file(Kind.recommendations, rows)
        )
        assert len(errors) == 1, errors
        [(loc, msg)] = errors
        assert loc == [3, column]
        assert message in msg
        assert row_counts(session, *TABLES) == counts

    def test_a_duplicate_code_names_the_first_row(self, session: Session, operator: Actor) -> None:
        rows = [ministry_row("MOI"), ministry_row("NPS"), ministry_row("MOI")]
        errors = _rejected(session, operator, Kind.ministries, csv_file(Kind.ministries, rows))
        assert errors == [([4, "code"], "the same code as row 2")]

    def test_a_missing_or_unknown_column_is_named_in_the_header_row(
        self, session: Session, operator: Actor
    ) -> None:
        columns = ["code", "name", "parent_code", "contact_email", "colour"]
        data = csv_file(Kind.ministries, [ministry_row("MOI")], columns=columns)
        errors = _rejected(session, operator, Kind.ministries, data)
        assert [loc for loc, _ in errors] == [[1, "colour"], [1, "kind"]]
        assert errors[1][1] == "missing column"

    def test_a_file_that_is_no_spreadsheet_is_refused(
        self, session: Session, operator: Actor
    ) -> None:
        errors = _rejected(session, operator, Kind.ministries, b"PK\x03\x04 not really a zip")
        assert errors == [([], "the .xlsx workbook cannot be read (BadZipFile)")]
        errors = _rejected(session, operator, Kind.ministries, "code\n\xe9".encode("latin-1"))
        assert "UTF-8" in errors[0][1]

    def test_an_officer_named_for_another_ministry_is_refused(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [
            ministry_row("CT"), ministry_row("NPS"),
        ]))  # fmt: skip
        run(session, operator, Kind.commitments, csv_file(Kind.commitments, [
            commitment_row("GOK-C-01", "CT", supporting_ministry_codes="NPS"),
        ]))  # fmt: skip
        create_user(
            session, "o@example.org", Role.government_officer, [_ministry(session, "CT").id or 0]
        )
        counts = row_counts(session, *TABLES)
        data = csv_file(Kind.status_updates, [{
            "commitment_code": "GOK-C-01", "ministry_code": "NPS",
            "reported_by_email": "o@example.org", "reported_at": "2025-01-01T00:00:00Z",
            "status": "completed", "progress_percent": "90", "summary": "Done",
        }])  # fmt: skip
        errors = _rejected(session, operator, Kind.status_updates, data)
        assert errors == [
            ([2, "reported_by_email"], "o@example.org is not an officer of NPS"),
            ([2, "progress_percent"], "a completed commitment reports progress_percent 100"),
        ]
        assert row_counts(session, *TABLES) == counts

    def test_dry_run_reports_what_would_change_and_writes_nothing(
        self, session: Session, operator: Actor
    ) -> None:
        run(session, operator, Kind.ministries, csv_file(Kind.ministries, [
            ministry_row("A"), ministry_row("B"),
        ]))  # fmt: skip
        counts = row_counts(session, *TABLES)
        data = csv_file(Kind.ministries, [
            ministry_row("A"), ministry_row("B", name="Renamed"), ministry_row("C"),
        ])  # fmt: skip
        report = run(session, operator, Kind.ministries, data, dry_run=True)
        assert report.dry_run is True
        assert (report.created, report.updated, report.unchanged) == (["C"], ["B"], ["A"])
        assert row_counts(session, *TABLES) == counts
        assert _ministry(session, "B").name == "Ministry B"


class TestReimport:
    def test_reimporting_the_export_changes_nothing_and_writes_no_audit_events(
        self, session: Session, tmp_path: Path
    ) -> None:
        world = build_world(session, "RI")
        export.export(session, ExportFormat.csv, tmp_path)
        counts = row_counts(session, *TABLES)
        for kind in IMPORT_ORDER:
            data = (tmp_path / f"{kind.value}.csv").read_bytes()
            report = run(session, world.secretariat, kind, data)
            assert report.counts.created == report.counts.updated == 0, report
            assert report.counts.unchanged == report.rows > 0
        assert row_counts(session, *TABLES) == counts

    def test_a_recorded_status_update_with_other_values_is_refused(
        self, session: Session, tmp_path: Path
    ) -> None:
        world = build_world(session, "RV")
        export.export(session, ExportFormat.csv, tmp_path)
        text = (tmp_path / "status-updates.csv").read_text("utf-8")
        changed = text.replace(",in_progress,40,", ",stalled,40,")
        assert changed != text
        errors = _rejected(session, world.secretariat, Kind.status_updates, changed.encode())
        assert len(errors) == 1
        assert errors[0][0] == [2, "status"]
        assert "never edited" in errors[0][1]


class TestImportCommand:
    def test_the_documented_samples_import_into_an_empty_database(
        self, scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        scratch = make_engine(scratch_database_url)
        monkeypatch.setenv("VPI_DATABASE_URL", scratch_database_url)
        runner = CliRunner()
        try:
            migrate.upgrade(scratch)
            with unit_of_work(scratch) as s:
                create_user(s, "grace.wanjiru@demo.vpitracker.org", Role.secretariat)
            for kind in IMPORT_ORDER:
                if kind is Kind.recommendations:
                    with unit_of_work(scratch) as s:  # the accounts the samples name
                        ctips = _ministry(s, "CTIPS").id or 0
                        create_user(
                            s, "joseph.mutua@demo.vpitracker.org", Role.government_officer, [ctips]
                        )
                        create_user(s, "amina.said@demo.vpitracker.org", Role.alliance_member)
                path = SAMPLES / f"{kind.value}.csv"
                args = [
                    "import",
                    kind.value,
                    str(path),
                    "--as",
                    "grace.wanjiru@demo.vpitracker.org",
                ]
                result = runner.invoke(cli.app, args)
                assert result.exit_code == 0, result.output
                report = json.loads(result.output)
                assert report["counts"]["created"] == report["rows"] > 0
                again = runner.invoke(cli.app, [*args, "--dry-run"])
                assert again.exit_code == 0, again.output
                assert json.loads(again.output)["counts"]["unchanged"] == report["rows"]
            with unit_of_work(scratch, write=False) as s:
                assert audit_service.verify(s).ok
                assert len(s.exec(select(Commitment)).all()) == 2
        finally:
            scratch.dispose()

    def test_a_bad_row_exits_1_with_the_report_and_writes_nothing(
        self, scratch_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        scratch = make_engine(scratch_database_url)
        monkeypatch.setenv("VPI_DATABASE_URL", scratch_database_url)
        try:
            migrate.upgrade(scratch)
            with unit_of_work(scratch) as s:
                create_user(s, "ops@example.org", Role.secretariat)
                create_user(s, "member@example.org", Role.alliance_member)
            path = tmp_path / "ministries.csv"
            path.write_bytes(
                csv_file(Kind.ministries, [ministry_row("A"), ministry_row("B", kind="planet")])
            )
            runner = CliRunner()
            result = runner.invoke(
                cli.app, ["import", "ministries", str(path), "--as", "ops@example.org"]
            )
            assert result.exit_code == 1, result.output
            assert json.loads(result.output)["errors"][0]["loc"] == [3, "kind"]
            with unit_of_work(scratch, write=False) as s:
                assert s.exec(select(Ministry)).all() == []
                # only the two accounts' creation events from the setup
                assert [e.action for e in s.exec(select(AuditEvent)).all()] == [
                    "user.created",
                    "user.created",
                ]
            refused = runner.invoke(
                cli.app, ["import", "ministries", str(path), "--as", "member@example.org"]
            )
            assert refused.exit_code == 2
            assert "secretariat" in refused.output
        finally:
            scratch.dispose()
