"""Spreadsheet import (docs/import-formats.md).

An import checks every row first (columns, values, codes it refers to, duplicates) and
writes nothing unless all rows are good; then it writes each change through the same
domain service the API uses, so edits are validated and audited exactly as over HTTP.
A service that still refuses a row raises :class:`ImportRejected`, and the caller's
transaction rolls the whole import back.

Reading the file (:mod:`.formats`) and checking its cells (:mod:`.parsing`) need no
database: :func:`read_file` does both, streaming the rows, before any transaction
starts (an upload can take seconds to read, and on SQLite a write transaction
holds the only write lock). The planners (:mod:`.planners`, one per kind) then
check the rows against the database and :func:`run_import` applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from vpitracker.errors import AppError, Forbidden, Invalid
from vpitracker.i18n import N_
from vpitracker.kernel import credentials
from vpitracker.kernel.actor import Actor
from vpitracker.transfer import formats, repository
from vpitracker.transfer.parsing import Errors, check_header, message, parse_rows
from vpitracker.transfer.planners import PLANNERS
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import ImportCounts, ImportReport, Kind
from vpitracker.vocab import Role

Progress = Callable[[int, int], None]

# Which column a service's error location (``["body", field]``) stands for.
_FIELD_COLUMNS = {
    "parent_id": "parent_code",
    "lead_ministry_id": "lead_ministry_code",
    "supporting_ministry_ids": "supporting_ministry_codes",
    "recommendation_ids": "recommendation_codes",
    "ministry_id": "ministry_code",
    "in_reply_to_assessment_id": "in_reply_to",
    "evidence": "evidence_urls",
}


class ImportRejected(Invalid):
    """422: the file has invalid rows; nothing was written."""

    def __init__(self, report: ImportReport, problem: formats.FileProblem | None = None) -> None:
        n = len(report.errors)
        one = N_("%(count)s problem in the %(kind)s file; nothing was imported")
        many = N_("%(count)s problems in the %(kind)s file; nothing was imported")
        if problem is not None:
            # The file as a whole: its problem is the detail (and errors[0], translated).
            super().__init__(problem.template, **problem.params)
        else:
            super().__init__(one if n == 1 else many, count=n, kind=report.kind.value)
        self.report = report
        self.errors = [e.model_dump() for e in report.errors]


@dataclass
class ParsedFile:
    """A file read and its cells checked: the rows' models, and the problems found."""

    kind: Kind
    rows: list[tuple[int, Any]] = field(default_factory=list)
    # Non-blank data rows in the file (checked or not).
    data_rows: int = 0
    errors: Errors = field(default_factory=Errors)


def operator(session: Session, email: str) -> Actor:
    """The CLI operator: an active secretariat user."""
    wanted = email.strip().lower()
    user = repository.users_by_email(session, [wanted]).get(wanted)
    if user is None or not user.is_active:
        raise Forbidden("No active user with email %(email)r", email=wanted)
    if user.role != Role.secretariat:
        raise Forbidden(
            "Imports run as a secretariat user; %(email)s is a %(role)s",
            email=wanted,
            role=user.role,
        )
    return credentials.actor_for_user(session, user)


def _report(kind: Kind, dry_run: bool, rows: int, ops: list[Op], errors: Errors) -> ImportReport:
    by_action: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    # A rejected file is rolled back whole: report no row as created or updated.
    for op in [] if errors else sorted(ops, key=lambda o: o.row):
        by_action[op.action].append(op.key)
    return ImportReport(
        kind=kind,
        dry_run=dry_run,
        written=not dry_run and not errors,
        rows=rows,
        counts=ImportCounts(**{k: len(v) for k, v in by_action.items()}),
        created=by_action["created"],
        updated=by_action["updated"],
        unchanged=by_action["unchanged"],
        errors=errors.items,
    )


def read_file(kind: Kind, data: bytes, filename: str, *, dry_run: bool = False) -> ParsedFile:
    """Read ``data`` and check its header and every cell; no database needed.

    :class:`ImportRejected` when the file as a whole cannot be read (or breaks a
    limit) or its header is wrong; problems of single rows are in ``errors``.
    """
    parsed = ParsedFile(kind=kind)
    try:
        with formats.open_table(data, filename=filename, sheet=kind.value) as sheet:
            check_header(kind, sheet.header, parsed.errors)
            if parsed.errors:
                _reject(parsed, dry_run=dry_run)
            parsed.rows = parse_rows(kind, sheet.rows, parsed.errors)
            parsed.data_rows = sheet.data_rows
    except formats.FileProblem as exc:
        errors = Errors()
        errors.add(None, None, str(exc))
        raise ImportRejected(_report(kind, False, 0, [], errors), exc) from None
    return parsed


def _reject(parsed: ParsedFile, ops: list[Op] | None = None, *, dry_run: bool = False) -> None:
    report = _report(parsed.kind, dry_run, parsed.data_rows, ops or [], parsed.errors)
    report.errors.sort(key=lambda e: e.loc[0] if e.loc and isinstance(e.loc[0], int) else 0)
    raise ImportRejected(report)


def run_import(
    session: Session,
    actor: Actor,
    parsed: ParsedFile,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Check the rows against the database, then (unless ``dry_run``) apply them."""
    kind, errors = parsed.kind, parsed.errors
    ops = PLANNERS[kind](session, actor, parsed.rows, errors)
    if errors:
        _reject(parsed, ops, dry_run=dry_run)
    report = _report(kind, dry_run, parsed.data_rows, ops, errors)
    if dry_run:
        return report
    todo = sorted((op for op in ops if op.apply is not None), key=lambda o: o.order)
    for done, op in enumerate(todo, start=1):
        assert op.apply is not None
        try:
            op.apply()
        except AppError as exc:
            errors.add(op.row, _column_of(exc), exc.detail)
            raise ImportRejected(_report(kind, dry_run, parsed.data_rows, ops, errors)) from exc
        except ValidationError as exc:
            for error in exc.errors():
                field_name = str(error["loc"][0]) if error["loc"] else None
                errors.add(op.row, _FIELD_COLUMNS.get(field_name or "", field_name), message(error))
            raise ImportRejected(_report(kind, dry_run, parsed.data_rows, ops, errors)) from exc
        if progress is not None:
            progress(done, len(todo))
    return report


def _column_of(exc: AppError) -> str | None:
    if not exc.errors:
        return None
    loc = exc.errors[0].get("loc") or []
    name = str(loc[-1]) if loc else None
    return _FIELD_COLUMNS.get(name or "", name)
