"""Export: one file per kind, formula-safe cells, and a round trip into an empty database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from tests.transfer.helpers import IMPORT_ORDER, build_world, create_user, run
from vpitracker import cli, migrate
from vpitracker.db import make_engine, unit_of_work
from vpitracker.ministries import repository as ministries_repository
from vpitracker.transfer import export, formats, service
from vpitracker.transfer.schemas import ExportFormat, Kind, column_names
from vpitracker.vocab import Role


def _read(directory: Path, fmt: ExportFormat, kind: Kind) -> formats.Table:
    if fmt is ExportFormat.xlsx:
        data = (directory / "vpitracker.xlsx").read_bytes()
        return formats.read_table(data, filename="vpitracker.xlsx", sheet=kind.value)
    return formats.read_table((directory / f"{kind.value}.{fmt.value}").read_bytes())


def _parsed(directory: Path, fmt: ExportFormat, kind: Kind) -> service.ParsedFile:
    name = "vpitracker.xlsx" if fmt is ExportFormat.xlsx else f"{kind.value}.{fmt.value}"
    return service.read_file(kind, (directory / name).read_bytes(), name)


def _import_all(engine: Engine, directory: Path, fmt: ExportFormat, tag: str) -> None:
    """Import every exported kind into ``engine``'s database, users created as needed."""
    with unit_of_work(engine) as s:
        operator = create_user(s, f"sec-{tag}@example.org", Role.secretariat)
        for kind in IMPORT_ORDER:
            if kind is Kind.recommendations:
                # Users are not imported: make the accounts the files name.
                officer_ministry = ministries_repository.by_code(s, f"SDI{tag}")
                assert officer_ministry is not None
                assert officer_ministry.id is not None
                create_user(
                    s, f"officer-{tag}@example.org", Role.government_officer, [officer_ministry.id]
                )
                create_user(s, f"member-{tag}@example.org", Role.alliance_member)
            parsed = _parsed(directory, fmt, kind)
            try:
                report = service.run_import(s, operator, parsed)
            except service.ImportRejected as exc:
                raise AssertionError(exc.report.errors) from exc
            assert report.counts.created == parsed.data_rows, report


class TestExportFiles:
    def test_csv_writes_one_file_per_kind_with_the_import_columns(
        self, session: Session, tmp_path: Path
    ) -> None:
        build_world(session, "F1")
        written = export.export(session, ExportFormat.csv, tmp_path)
        assert set(written) == {f"{k.value}.csv" for k in Kind}
        for kind in Kind:
            with (tmp_path / f"{kind.value}.csv").open(newline="", encoding="utf-8") as handle:
                rows = list(csv.reader(handle))
            assert rows[0] == column_names(kind)
            assert len(rows) - 1 == written[f"{kind.value}.csv"]
        assert written["status-updates.csv"] == 3
        assert written["assessments.csv"] == 1

    def test_csv_cells_that_look_like_formulas_are_neutralized(
        self, session: Session, tmp_path: Path
    ) -> None:
        build_world(session, "F2")
        export.export(session, ExportFormat.csv, tmp_path)
        with (tmp_path / "recommendations.csv").open(newline="", encoding="utf-8") as handle:
            row = next(r for r in csv.DictReader(handle) if r["code"] == "VPI-TIP-F2")
        assert row["title"] == '\'=HYPERLINK("http://evil.example","click")'
        assert row["source"] == "'+254 working group"
        assert row["response_note"] == "'-5% of the budget; subject to approval"
        assert row["raised_by"] == "'@HAART Kenya; 'Quoted org; Trace Kenya"
        with (tmp_path / "ministries.csv").open(newline="", encoding="utf-8") as handle:
            names = {r["code"]: r["name"] for r in csv.DictReader(handle)}
        assert names["SDIF2"] == "'=Immigration"
        for path in tmp_path.glob("*.csv"):
            for record in csv.reader(path.open(newline="", encoding="utf-8")):
                assert not any(c.startswith(("=", "+", "-", "@")) for c in record), record

    def test_a_text_that_starts_with_a_quote_survives_the_round_trip(self) -> None:
        for text in ("'Quoted", "''", "'=x", "=x", "-", "plain", "'", "\uff1dx", "|x", "'|x"):
            assert formats.unprotect(formats.protect(text)) == text

    def test_xlsx_is_one_workbook_with_a_sheet_per_kind(
        self, session: Session, tmp_path: Path
    ) -> None:
        from openpyxl import load_workbook

        build_world(session, "F3")
        export.export(session, ExportFormat.xlsx, tmp_path)
        workbook = load_workbook(tmp_path / "vpitracker.xlsx", read_only=True)
        assert workbook.sheetnames == [k.value for k in Kind]
        sheet = workbook["ministries"]
        header = next(sheet.iter_rows(values_only=True))
        assert list(header) == column_names(Kind.ministries)
        cells = [c for row in sheet.iter_rows(values_only=True) for c in row]
        assert "'=Immigration" in cells
        workbook.close()

    def test_jsonl_keeps_lists_and_numbers(self, session: Session, tmp_path: Path) -> None:
        build_world(session, "F4")
        export.export(session, ExportFormat.jsonl, tmp_path)
        lines = (tmp_path / "recommendations.jsonl").read_text("utf-8").splitlines()
        rec = next(json.loads(x) for x in lines if json.loads(x)["code"] == "VPI-TIP-F4")
        assert rec["raised_by"] == ["@HAART Kenya", "'Quoted org", "Trace Kenya"]
        assert rec["provision_keys"] == ["TIP-6", "UNTOC-25"]
        assert rec["source_date"] == "2024-03-14"
        updates = [
            json.loads(x)
            for x in (tmp_path / "status-updates.jsonl").read_text("utf-8").splitlines()
        ]
        reply = next(u for u in updates if u["in_reply_to"])
        assert reply["progress_percent"] == 45
        assert reply["in_reply_to"] == "2025-03-05T14:20:00.250000Z"


class TestRoundTrip:
    @pytest.mark.parametrize("fmt", [ExportFormat.csv, ExportFormat.xlsx])
    def test_export_imported_into_an_empty_database_reproduces_it(
        self, session: Session, tmp_path: Path, scratch_database_url: str, fmt: ExportFormat
    ) -> None:
        tag = f"R{fmt.value[0].upper()}"
        build_world(session, tag)
        original = tmp_path / "original"
        export.export(session, fmt, original)
        scratch = make_engine(scratch_database_url)
        try:
            migrate.upgrade(scratch)
            _import_all(scratch, original, fmt, tag)
            copy = tmp_path / "copy"
            with unit_of_work(scratch, write=False) as s:
                export.export(s, fmt, copy)
            for kind in Kind:
                before, after = _read(original, fmt, kind), _read(copy, fmt, kind)
                assert after.rows == before.rows, kind
                assert len(before.rows) > 0, kind
            if fmt is ExportFormat.csv:
                for kind in Kind:
                    name = f"{kind.value}.csv"
                    assert (copy / name).read_bytes() == (original / name).read_bytes()
            # A second import of the same files is a no-op.
            with unit_of_work(scratch) as s:
                operator = service.operator(s, f"sec-{tag}@example.org")
                for kind in IMPORT_ORDER:
                    report = service.run_import(s, operator, _parsed(original, fmt, kind))
                    assert report.counts.created == report.counts.updated == 0
        finally:
            scratch.dispose()


class TestExportCommand:
    def test_cli_writes_the_files_and_reports_them(
        self, scratch_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        scratch = make_engine(scratch_database_url)
        try:
            migrate.upgrade(scratch)
            with unit_of_work(scratch) as s:
                actor = create_user(s, "ops@example.org", Role.secretariat)
                from tests.transfer.helpers import csv_file, ministry_row

                run(s, actor, Kind.ministries, csv_file(Kind.ministries, [ministry_row("MOI")]))
            monkeypatch.setenv("VPI_DATABASE_URL", scratch_database_url)
            runner = CliRunner()
            for fmt in ExportFormat:
                result = runner.invoke(
                    cli.app, ["export", "--format", fmt.value, "--out", str(tmp_path / fmt.value)]
                )
                assert result.exit_code == 0, result.output
                answer = json.loads(result.output)
                assert answer["format"] == fmt.value
                assert sum(answer["files"].values()) == 1
            assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(
                f"{k.value}.csv" for k in Kind
            )
            assert (tmp_path / "xlsx" / "vpitracker.xlsx").is_file()
            assert (
                (tmp_path / "jsonl" / "ministries.jsonl")
                .read_text("utf-8")
                .startswith('{"code": "MOI"')
            )
        finally:
            scratch.dispose()
