"""Spreadsheet import and export (docs/import-formats.md).

An import checks every row first (columns, values, codes it refers to, duplicates) and
writes nothing unless all rows are good; then it writes each change through the same
domain service the API uses, so edits are validated and audited exactly as over HTTP.
A service that still refuses a row raises :class:`ImportRejected`, and the caller's
transaction rolls the whole import back.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session, SQLModel

from vpitracker.auth import service as auth_service
from vpitracker.auth.actor import Actor
from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentUpdate
from vpitracker.errors import AppError, Forbidden, Invalid
from vpitracker.i18n import N_
from vpitracker.ministries import service as ministries_service
from vpitracker.ministries.schemas import MinistryCreate, MinistryUpdate
from vpitracker.models import (
    Assessment,
    Commitment,
    Ministry,
    Recommendation,
    StatusUpdate,
    User,
    utcnow,
)
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.schemas import RecommendationCreate, RecommendationUpdate
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.transfer import formats, repository
from vpitracker.transfer.formats import Table, timestamp_text
from vpitracker.transfer.schemas import (
    COLUMNS,
    ROW_MODELS,
    AssessmentRow,
    CellType,
    CommitmentRow,
    ExportFormat,
    ImportCounts,
    ImportReport,
    Kind,
    MinistryRow,
    RecommendationRow,
    RowError,
    StatusUpdateRow,
    column_names,
)
from vpitracker.types import EvidenceLink
from vpitracker.versioning import etag
from vpitracker.vocab import ReportedStatus, Role

R = TypeVar("R", bound=BaseModel)
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
REPORTERS = frozenset({Role.secretariat, Role.government_officer})
ASSESSORS = frozenset({Role.secretariat, Role.alliance_member})


class ImportRejected(Invalid):
    """422: the file has invalid rows; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        n = len(report.errors)
        one = N_("%(count)s problem in the %(kind)s file; nothing was imported")
        many = N_("%(count)s problems in the %(kind)s file; nothing was imported")
        super().__init__(one if n == 1 else many, count=n, kind=report.kind.value)
        self.report = report
        self.errors = [e.model_dump() for e in report.errors]


class _Errors:
    def __init__(self) -> None:
        self.items: list[RowError] = []

    def add(self, row: int | None, column: str | None, msg: str) -> None:
        loc: list[str | int] = [x for x in (row, column) if x is not None]
        self.items.append(RowError(loc=loc, msg=msg))

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class _Op:
    row: int
    key: str
    action: Literal["created", "updated", "unchanged"]
    order: tuple[Any, ...] = ()
    apply: Callable[[], None] | None = None


# --- cells to values -------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_WHOLE = re.compile(r"^[+-]?\d{1,9}(\.0*)?$")


def _parse_date(text: str) -> date:
    try:
        if _DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; without an offset the time is taken as UTC."""
    try:
        if _TIMESTAMP.match(text):
            value = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a UTC timestamp such as 2025-03-01T09:30:00Z")


def _parse_int(text: str) -> int:
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text.split(".")[0])


def _parse_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


_PARSERS: dict[CellType, Callable[[str], Any]] = {
    "text": lambda text: text,
    "list": _parse_list,
    "date": _parse_date,
    "datetime": parse_timestamp,
    "int": _parse_int,
}


def _message(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "a value is required"
    msg = str(error["msg"]).removeprefix("Value error, ")
    items = [p for p in error["loc"][1:] if isinstance(p, int)]
    return f"item {items[0] + 1}: {msg}" if items else msg


def _letter(index: int) -> str:
    """The spreadsheet's name for the 1-based column ``index`` (1 -> A, 27 -> AA)."""
    name = ""
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _check_header(kind: Kind, table: Table, errors: _Errors) -> None:
    known = {c.name for c in COLUMNS[kind]}
    seen: set[str] = set()
    for i, name in enumerate(table.header, start=1):
        if not name:
            errors.add(1, _letter(i), "this column has no name")
        elif name in seen:
            errors.add(1, name, "this column appears twice")
        elif name not in known:
            errors.add(1, name, f"unknown column; the columns are {', '.join(column_names(kind))}")
        seen.add(name)
    for column in COLUMNS[kind]:
        if not column.optional and column.name not in seen:
            errors.add(1, column.name, "missing column")


def _parse_rows(kind: Kind, table: Table, errors: _Errors) -> list[tuple[int, Any]]:
    model = ROW_MODELS[kind]
    for number, index in table.stray_cells:
        errors.add(number, _letter(index), "a value in a column with no name")
    out: list[tuple[int, Any]] = []
    for number, raw in table.rows:
        values: dict[str, Any] = {}
        bad: set[str] = set()
        for column in COLUMNS[kind]:
            text = raw.get(column.name, "").strip()
            if not text:
                continue
            try:
                values[column.name] = _PARSERS[column.type](text)
            except ValueError as exc:
                errors.add(number, column.name, str(exc))
                bad.add(column.name)
        try:
            row = model.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                column_name = str(error["loc"][0]) if error["loc"] else None
                if column_name not in bad:
                    errors.add(number, column_name, _message(error))
            continue
        if not bad:
            out.append((number, row))
    return out


def _first_rows(
    rows: list[tuple[int, R]], key: Callable[[R], Any], column: str, errors: _Errors
) -> list[tuple[int, R]]:
    """Rows whose key no earlier row had; the repeats are errors."""
    first: dict[Any, int] = {}
    out = []
    for number, row in rows:
        k = key(row)
        if k in first:
            errors.add(number, column, f"the same {column} as row {first[k]}")
            continue
        first[k] = number
        out.append((number, row))
    return out


def _blank(value: str | None) -> str | None:
    return value or None


def _changes(current: Any, desired: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in desired.items() if getattr(current, k) != v}


def _reload(session: Session, row: SQLModel) -> None:
    """Read the row again, locked, before its edit.

    The edit then carries the version the checks saw as ``If-Match``: should another
    writer have changed the record since, the service answers 412 and the import is
    rolled back instead of overwriting that change.
    """
    session.refresh(row, with_for_update=True)


# --- ministries ------------------------------------------------------------------------


def _plan_ministries(
    session: Session, actor: Actor, rows: list[tuple[int, MinistryRow]], errors: _Errors
) -> list[_Op]:
    existing = {m.code: m for m in repository.ministries(session)}
    code_of = {m.id: m.code for m in existing.values()}
    ids: dict[str, int] = {m.code: m.id for m in existing.values() if m.id is not None}
    in_file = {row.code: (n, row) for n, row in _first_rows(rows, lambda r: r.code, "code", errors)}
    final_parent: dict[str, str | None] = {
        code: code_of.get(m.parent_id) if m.parent_id else None for code, m in existing.items()
    }
    final_parent.update({code: row.parent_code for code, (_, row) in in_file.items()})
    ops: list[_Op] = []
    for code, (number, row) in in_file.items():
        current = existing.get(code)
        parent = row.parent_code
        current_parent = _parent_code(current, code_of)
        if parent is not None and parent != current_parent:
            if parent == code:
                errors.add(number, "parent_code", "a ministry cannot be its own parent")
                continue
            if parent not in in_file and parent not in existing:
                errors.add(number, "parent_code", f"unknown ministry code {parent!r}")
                continue
            if parent in existing and existing[parent].archived_at is not None:
                errors.add(number, "parent_code", f"ministry {parent!r} is archived")
                continue
        chain, cycle = _ancestors(code, final_parent)
        if cycle:
            loop = " -> ".join([code, *chain, code])
            errors.add(number, "parent_code", f"the parents form a cycle: {loop}")
            continue
        desired = {"name": row.name, "kind": row.kind.value, "contact_email": row.contact_email}
        if current is None:
            create = _create_ministry(session, actor, row, ids)
            ops.append(_Op(number, code, "created", (), create))
            continue
        changes = _changes(current, desired)
        if _blank(current.contact_email) == row.contact_email:
            changes.pop("contact_email", None)
        parent_changed = parent != current_parent
        if not changes and not parent_changed:
            ops.append(_Op(number, code, "unchanged"))
            continue
        new_parent: str | Literal[False] | None = parent if parent_changed else False
        update = _update_ministry(session, actor, current, changes, new_parent, ids)
        ops.append(_Op(number, code, "updated", (), update))
    _parents_first(ops, final_parent)
    return ops


def _parents_first(ops: list[_Op], parent_of: dict[str, str | None]) -> None:
    """Order writes as in the file, except that a parent in the file goes before its children.

    Then every parent a write names already has its final chain of ancestors: no edit
    can make a passing cycle, and new ministries get ids in file order.
    """
    pending = {op.key: op for op in ops if op.apply is not None}
    position = 0

    def visit(op: _Op) -> None:
        nonlocal position
        del pending[op.key]
        parent = parent_of.get(op.key)
        if parent in pending:
            visit(pending[parent])
        op.order = (position,)
        position += 1

    for op in ops:
        if op.key in pending:
            visit(op)


def _parent_code(ministry: Ministry | None, code_of: dict[int | None, str]) -> str | None:
    if ministry is None or ministry.parent_id is None:
        return None
    return code_of.get(ministry.parent_id)


def _ancestors(code: str, parent_of: dict[str, str | None]) -> tuple[list[str], bool]:
    """The parent chain above ``code`` once the file is applied, and whether it loops back."""
    chain: list[str] = []
    parent = parent_of.get(code)
    while parent is not None and parent not in chain:
        if parent == code:
            return chain, True
        chain.append(parent)
        parent = parent_of.get(parent)
    return chain, False


def _create_ministry(
    session: Session, actor: Actor, row: MinistryRow, ids: dict[str, int]
) -> Callable[[], None]:
    def apply() -> None:
        body = MinistryCreate(
            code=row.code,
            name=row.name,
            kind=row.kind,
            parent_id=ids[row.parent_code] if row.parent_code else None,
            contact_email=row.contact_email,
        )
        created = ministries_service.create(session, actor, body)
        assert created.id is not None
        ids[row.code] = created.id

    return apply


def _update_ministry(
    session: Session,
    actor: Actor,
    current: Ministry,
    changes: dict[str, Any],
    parent: str | Literal[False] | None,
    ids: dict[str, int],
) -> Callable[[], None]:
    seen = etag(current.version)

    def apply() -> None:
        data = dict(changes)
        if parent is not False:
            data["parent_id"] = ids[parent] if parent else None
        assert current.id is not None
        _reload(session, current)
        ministries_service.update(session, actor, current.id, MinistryUpdate(**data), seen)

    return apply


# --- recommendations -------------------------------------------------------------------


def _plan_recommendations(
    session: Session, actor: Actor, rows: list[tuple[int, RecommendationRow]], errors: _Errors
) -> list[_Op]:
    existing = {r.code: r for r in repository.recommendations(session)}
    provisions = repository.provisions_by_recommendation(session)
    catalogue = repository.provision_keys(session)
    ops: list[_Op] = []
    for number, row in _first_rows(rows, lambda r: r.code, "code", errors):
        unknown = sorted(set(row.provision_keys) - catalogue)
        if unknown:
            errors.add(number, "provision_keys", f"unknown provision key(s): {', '.join(unknown)}")
            continue
        current = existing.get(row.code)
        if current is None:
            create = _create_recommendation(
                session, actor, RecommendationCreate(**row.model_dump())
            )
            ops.append(_Op(number, row.code, "created", (number,), create))
            continue
        assert current.id is not None
        desired = row.model_dump(exclude={"code", "provision_keys"})
        changes = _changes(current, desired)
        if _blank(current.response_note) == row.response_note:
            changes.pop("response_note", None)
        keys = sorted(set(row.provision_keys))
        if keys != sorted(provisions.get(current.id, [])):
            changes["provision_keys"] = keys
        if not changes:
            ops.append(_Op(number, row.code, "unchanged"))
            continue
        update = _update_recommendation(session, actor, current.id, current, changes)
        ops.append(_Op(number, row.code, "updated", (number,), update))
    return ops


def _create_recommendation(
    session: Session, actor: Actor, body: RecommendationCreate
) -> Callable[[], None]:
    def apply() -> None:
        recommendations_service.create(session, actor, body)

    return apply


def _update_recommendation(
    session: Session,
    actor: Actor,
    rec_id: int,
    current: Recommendation,
    changes: dict[str, Any],
) -> Callable[[], None]:
    seen = etag(current.version)

    def apply() -> None:
        _reload(session, current)
        recommendations_service.update(
            session, actor, rec_id, RecommendationUpdate(**changes), seen
        )

    return apply


# --- commitments -----------------------------------------------------------------------


def _plan_commitments(
    session: Session, actor: Actor, rows: list[tuple[int, CommitmentRow]], errors: _Errors
) -> list[_Op]:
    existing = {c.code: c for c in repository.commitments(session)}
    recs_of, support_of = repository.commitment_links(session)
    ministries = {m.code: m for m in repository.ministries(session)}
    recommendations = {r.code: r for r in repository.recommendations(session)}
    today = utcnow().date()
    ops: list[_Op] = []
    for number, row in _first_rows(rows, lambda r: r.code, "code", errors):
        current = existing.get(row.code)
        before = len(errors.items)
        for column, codes, known in (
            ("lead_ministry_code", [row.lead_ministry_code], ministries),
            ("supporting_ministry_codes", row.supporting_ministry_codes, ministries),
            ("recommendation_codes", row.recommendation_codes, recommendations),
        ):
            unknown = sorted({c for c in codes if c not in known})
            if unknown:
                what = "recommendation" if column == "recommendation_codes" else "ministry"
                errors.add(number, column, f"unknown {what} code(s): {', '.join(unknown)}")
        if row.lead_ministry_code in row.supporting_ministry_codes:
            errors.add(
                number,
                "supporting_ministry_codes",
                "the lead ministry cannot also be a supporting ministry",
            )
        committed_on = row.committed_on or (current.committed_on if current else today)
        if row.due_date < committed_on:
            errors.add(number, "due_date", "due_date must not be before committed_on")
        if len(errors.items) > before:
            continue
        lead = ministries[row.lead_ministry_code]
        support = sorted({ministries[c].id or 0 for c in row.supporting_ministry_codes})
        recs = sorted({recommendations[c].id or 0 for c in row.recommendation_codes})
        desired: dict[str, Any] = {
            "title": row.title,
            "description": row.description,
            "lead_ministry_id": lead.id,
            "committed_on": committed_on,
            "due_date": row.due_date,
            "indicator": row.indicator,
        }
        changes: dict[str, Any] = {}
        old_recs: set[int] = set()
        if current is not None:
            assert current.id is not None
            changes = _changes(current, desired)
            old_recs = recs_of.get(current.id, set())
            if set(recs) != old_recs:
                changes["recommendation_ids"] = recs
            if set(support) != support_of.get(current.id, set()):
                changes["supporting_ministry_ids"] = support
            if not changes:
                ops.append(_Op(number, row.code, "unchanged"))
                continue
        # The service refuses links to archived records (on an edit: any new one).
        archived = [
            (column, code)
            for column, codes, known in (
                ("lead_ministry_code", [row.lead_ministry_code], ministries),
                ("supporting_ministry_codes", row.supporting_ministry_codes, ministries),
            )
            for code in codes
            if known[code].archived_at is not None
        ] + [
            ("recommendation_codes", code)
            for code in row.recommendation_codes
            if recommendations[code].archived_at is not None
            and recommendations[code].id not in old_recs
        ]
        for column, code in archived:
            errors.add(number, column, f"{code!r} is archived")
        if archived:
            continue
        if current is None:
            body = CommitmentCreate(
                code=row.code,
                title=row.title,
                description=row.description,
                recommendation_ids=recs,
                lead_ministry_id=lead.id or 0,
                supporting_ministry_ids=support,
                committed_on=row.committed_on,
                due_date=row.due_date,
                indicator=row.indicator,
            )
            create = _create_commitment(session, actor, body)
            ops.append(_Op(number, row.code, "created", (number,), create))
        else:
            update = _update_commitment(session, actor, current, changes)
            ops.append(_Op(number, row.code, "updated", (number,), update))
    return ops


def _create_commitment(
    session: Session, actor: Actor, body: CommitmentCreate
) -> Callable[[], None]:
    def apply() -> None:
        commitments_service.create(session, actor, body)

    return apply


def _update_commitment(
    session: Session, actor: Actor, current: Commitment, changes: dict[str, Any]
) -> Callable[[], None]:
    seen = etag(current.version)

    def apply() -> None:
        assert current.id is not None
        _reload(session, current)
        commitments_service.update(session, actor, current.id, CommitmentUpdate(**changes), seen)

    return apply


# --- status updates and assessments (append-only) --------------------------------------


@dataclass
class _Context:
    """What append-only rows refer to, loaded once."""

    commitments: dict[str, Commitment]
    ministries: dict[str, Ministry]
    support: dict[int, set[int]]
    users: dict[str, User]
    user_ministries: dict[int, set[int]]
    actors: dict[int, Actor] = field(default_factory=dict)

    def actor(self, session: Session, user: User) -> Actor:
        assert user.id is not None
        if user.id not in self.actors:
            self.actors[user.id] = auth_service.actor_for_user(session, user)
        return self.actors[user.id]


def _context(session: Session, emails: list[str]) -> _Context:
    _, support = repository.commitment_links(session)
    users = repository.users_by_email(session, emails)
    return _Context(
        commitments={c.code: c for c in repository.commitments(session)},
        ministries={m.code: m for m in repository.ministries(session)},
        support=support,
        users=users,
        user_ministries=repository.ministries_of_users(
            session, [u.id for u in users.values() if u.id is not None]
        ),
    )


def _named_commitments(ctx: _Context, rows: list[tuple[int, Any]]) -> list[int]:
    """Ids of the commitments the rows name (whose recorded reports must be compared)."""
    found = (ctx.commitments.get(row.commitment_code) for _, row in rows)
    return sorted({c.id or 0 for c in found if c is not None})


def _commitment_for(ctx: _Context, number: int, code: str, errors: _Errors) -> Commitment | None:
    commitment = ctx.commitments.get(code)
    if commitment is None:
        errors.add(number, "commitment_code", f"unknown commitment code {code!r}")
    elif commitment.archived_at is not None:
        errors.add(number, "commitment_code", f"commitment {code!r} is archived")
        return None
    return commitment


def _user_for(
    ctx: _Context, number: int, column: str, email: str, roles: frozenset[Role], errors: _Errors
) -> User | None:
    user = ctx.users.get(email)
    if user is None:
        errors.add(number, column, f"no user with email {email!r}")
        return None
    if Role(user.role) not in roles:
        errors.add(number, column, f"{email} is a {user.role}, who cannot post these")
        return None
    return user


def _not_future(number: int, column: str, at: datetime, now: datetime, errors: _Errors) -> bool:
    if at > now:
        errors.add(number, column, "this time is in the future")
        return False
    return True


def _urls(evidence: list[dict[str, Any]]) -> list[str]:
    return [str(e["url"]) for e in evidence]


def _plan_status_updates(
    session: Session, operator: Actor, rows: list[tuple[int, StatusUpdateRow]], errors: _Errors
) -> list[_Op]:
    ctx = _context(session, [row.reported_by_email for _, row in rows])
    commitment_ids = _named_commitments(ctx, rows)
    recorded: dict[tuple[Any, ...], StatusUpdate] = {
        (u.commitment_id, u.reported_at, u.ministry_id, u.summary): u
        for u in repository.updates_of(session, commitment_ids)
    }
    replies: dict[tuple[int, datetime], list[Assessment]] = defaultdict(list)
    for a in repository.assessments_of(session, commitment_ids):
        replies[(a.commitment_id, a.assessed_at)].append(a)
    now = utcnow()
    seen: dict[tuple[Any, ...], int] = {}
    ops: list[_Op] = []
    for number, row in rows:
        before = len(errors.items)
        commitment = _commitment_for(ctx, number, row.commitment_code, errors)
        ministry = ctx.ministries.get(row.ministry_code)
        if ministry is None:
            errors.add(number, "ministry_code", f"unknown ministry code {row.ministry_code!r}")
        elif commitment is not None and ministry.id not in {
            commitment.lead_ministry_id,
            *ctx.support.get(commitment.id or 0, set()),
        }:
            errors.add(
                number,
                "ministry_code",
                f"{row.ministry_code} neither leads nor supports {row.commitment_code}",
            )
        user = _user_for(ctx, number, "reported_by_email", row.reported_by_email, REPORTERS, errors)
        if (
            user is not None
            and ministry is not None
            and user.role == Role.government_officer
            and ministry.id not in ctx.user_ministries.get(user.id or 0, set())
        ):
            errors.add(
                number,
                "reported_by_email",
                f"{row.reported_by_email} is not an officer of {row.ministry_code}",
            )
        _not_future(number, "reported_at", row.reported_at, now, errors)
        if row.status is ReportedStatus.completed and row.progress_percent != 100:
            errors.add(
                number, "progress_percent", "a completed commitment reports progress_percent 100"
            )
        reply_id: int | None = None
        if row.in_reply_to is not None and commitment is not None:
            found = replies.get((commitment.id or 0, row.in_reply_to), [])
            if len(found) != 1:
                errors.add(
                    number,
                    "in_reply_to",
                    f"no assessment of {row.commitment_code} was made at that time"
                    if not found
                    else "several assessments were made at that time",
                )
            else:
                reply_id = found[0].id
        if len(errors.items) > before or commitment is None or ministry is None or user is None:
            continue
        key = (commitment.id, row.reported_at, ministry.id, row.summary)
        if key in seen:
            errors.add(number, "summary", f"the same status update as row {seen[key]}")
            continue
        seen[key] = number
        label = f"{row.commitment_code}@{timestamp_text(row.reported_at)}"
        old = recorded.get(key)
        if old is not None:
            differs = [
                column
                for column, then, now_value in (
                    ("status", old.status, row.status.value),
                    ("progress_percent", old.progress_percent, row.progress_percent),
                    ("reported_by_email", old.reported_by, user.id),
                    ("evidence_urls", _urls(old.evidence), row.evidence_urls),
                    ("in_reply_to", old.in_reply_to_assessment_id, reply_id),
                )
                if then != now_value
            ]
            if differs:
                errors.add(
                    number,
                    differs[0],
                    "this status update is already recorded with other values; "
                    "updates are never edited (post a newer one)",
                )
            else:
                ops.append(_Op(number, label, "unchanged"))
            continue
        body = StatusUpdateCreate(
            status=row.status,
            progress_percent=row.progress_percent,
            summary=row.summary,
            evidence=[EvidenceLink(url=u) for u in row.evidence_urls],
            in_reply_to_assessment_id=reply_id,
            ministry_id=ministry.id,
        )
        reporter = ctx.actor(session, user)
        post = _post_update(session, reporter, operator, commitment.id or 0, body, row.reported_at)
        ops.append(_Op(number, label, "created", (row.reported_at, number), post))
    return ops


def _post_update(
    session: Session,
    actor: Actor,
    operator: Actor,
    commitment_id: int,
    body: StatusUpdateCreate,
    at: datetime,
) -> Callable[[], None]:
    def apply() -> None:
        reporting_service.post_update(
            session, actor, commitment_id, body, reported_at=at, imported_by=operator
        )

    return apply


def _plan_assessments(
    session: Session, operator: Actor, rows: list[tuple[int, AssessmentRow]], errors: _Errors
) -> list[_Op]:
    ctx = _context(session, [row.assessed_by_email for _, row in rows])
    recorded: dict[tuple[Any, ...], Assessment] = {
        (a.commitment_id, a.assessed_at, a.assessed_by, a.rationale): a
        for a in repository.assessments_of(session, _named_commitments(ctx, rows))
    }
    now = utcnow()
    seen: dict[tuple[Any, ...], int] = {}
    ops: list[_Op] = []
    for number, row in rows:
        before = len(errors.items)
        commitment = _commitment_for(ctx, number, row.commitment_code, errors)
        user = _user_for(ctx, number, "assessed_by_email", row.assessed_by_email, ASSESSORS, errors)
        _not_future(number, "assessed_at", row.assessed_at, now, errors)
        if len(errors.items) > before or commitment is None or user is None:
            continue
        key = (commitment.id, row.assessed_at, user.id, row.rationale)
        if key in seen:
            errors.add(number, "rationale", f"the same assessment as row {seen[key]}")
            continue
        seen[key] = number
        label = f"{row.commitment_code}@{timestamp_text(row.assessed_at)}"
        old = recorded.get(key)
        if old is not None:
            differs = [
                column
                for column, then, now_value in (
                    ("verdict", old.verdict, row.verdict.value),
                    ("assessed_status", old.assessed_status, row.assessed_status.value),
                    ("evidence_urls", _urls(old.evidence), row.evidence_urls),
                )
                if then != now_value
            ]
            if differs:
                errors.add(
                    number,
                    differs[0],
                    "this assessment is already recorded with other values; "
                    "assessments are never edited (post a newer one)",
                )
            else:
                ops.append(_Op(number, label, "unchanged"))
            continue
        body = AssessmentCreate(
            verdict=row.verdict,
            assessed_status=row.assessed_status,
            rationale=row.rationale,
            evidence=[EvidenceLink(url=u) for u in row.evidence_urls],
        )
        post = _post_assessment(
            session, ctx.actor(session, user), operator, commitment.id or 0, body, row.assessed_at
        )
        ops.append(_Op(number, label, "created", (row.assessed_at, number), post))
    return ops


def _post_assessment(
    session: Session,
    actor: Actor,
    operator: Actor,
    commitment_id: int,
    body: AssessmentCreate,
    at: datetime,
) -> Callable[[], None]:
    def apply() -> None:
        reporting_service.post_assessment(
            session, actor, commitment_id, body, assessed_at=at, imported_by=operator
        )

    return apply


_PLANNERS: dict[Kind, Callable[[Session, Actor, Any, _Errors], list[_Op]]] = {
    Kind.ministries: _plan_ministries,
    Kind.recommendations: _plan_recommendations,
    Kind.commitments: _plan_commitments,
    Kind.status_updates: _plan_status_updates,
    Kind.assessments: _plan_assessments,
}


# --- import ----------------------------------------------------------------------------


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
    return auth_service.actor_for_user(session, user)


def _report(
    kind: Kind, dry_run: bool, table: Table | None, ops: list[_Op], errors: _Errors
) -> ImportReport:
    by_action: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    # A rejected file is rolled back whole: report no row as created or updated.
    for op in [] if errors else sorted(ops, key=lambda o: o.row):
        by_action[op.action].append(op.key)
    return ImportReport(
        kind=kind,
        dry_run=dry_run,
        written=not dry_run and not errors,
        rows=len(table.rows) if table else 0,
        counts=ImportCounts(**{k: len(v) for k, v in by_action.items()}),
        created=by_action["created"],
        updated=by_action["updated"],
        unchanged=by_action["unchanged"],
        errors=errors.items,
    )


def read_file(kind: Kind, data: bytes, filename: str) -> Table:
    """The table in ``data``, or :class:`ImportRejected` when the file cannot be read."""
    try:
        return formats.read_table(data, filename=filename, sheet=kind.value)
    except formats.FileProblem as exc:
        errors = _Errors()
        errors.add(None, None, str(exc))
        raise ImportRejected(_report(kind, False, None, [], errors)) from None


def run_import(
    session: Session,
    actor: Actor,
    kind: Kind,
    table: Table,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row, then (unless ``dry_run``) apply them through the domain services."""
    errors = _Errors()
    _check_header(kind, table, errors)
    ops: list[_Op] = []
    if not errors:
        rows = _parse_rows(kind, table, errors)
        ops = _PLANNERS[kind](session, actor, rows, errors)
    report = _report(kind, dry_run, table, ops, errors)
    if errors:
        report.errors.sort(key=lambda e: e.loc[0] if e.loc and isinstance(e.loc[0], int) else 0)
        raise ImportRejected(report)
    if dry_run:
        return report
    todo = sorted((op for op in ops if op.apply is not None), key=lambda o: o.order)
    for done, op in enumerate(todo, start=1):
        assert op.apply is not None
        try:
            op.apply()
        except AppError as exc:
            errors.add(op.row, _column_of(exc), exc.detail)
            raise ImportRejected(_report(kind, dry_run, table, ops, errors)) from exc
        except ValidationError as exc:
            for error in exc.errors():
                field_name = str(error["loc"][0]) if error["loc"] else None
                errors.add(
                    op.row, _FIELD_COLUMNS.get(field_name or "", field_name), _message(error)
                )
            raise ImportRejected(_report(kind, dry_run, table, ops, errors)) from exc
        if progress is not None:
            progress(done, len(todo))
    return report


def _column_of(exc: AppError) -> str | None:
    if not exc.errors:
        return None
    loc = exc.errors[0].get("loc") or []
    name = str(loc[-1]) if loc else None
    return _FIELD_COLUMNS.get(name or "", name)


# --- export ----------------------------------------------------------------------------


def _codes(ids: set[int], code_of: dict[int, str]) -> list[str]:
    return sorted(code_of[i] for i in ids if i in code_of)


def export_rows(session: Session, kind: Kind) -> Iterator[dict[str, Any]]:
    """The rows of one kind, with the same columns the importer reads."""
    if kind is Kind.ministries:
        ministries = repository.ministries(session)
        code_of = {m.id: m.code for m in ministries}
        for m in ministries:
            yield {
                "code": m.code,
                "name": m.name,
                "kind": m.kind,
                "parent_code": code_of.get(m.parent_id) if m.parent_id else None,
                "contact_email": m.contact_email,
            }
    elif kind is Kind.recommendations:
        provisions = repository.provisions_by_recommendation(session)
        for r in repository.recommendations(session):
            yield {
                **r.model_dump(include=set(column_names(kind))),
                "provision_keys": provisions.get(r.id or 0, []),
            }
    elif kind is Kind.commitments:
        recs_of, support_of = repository.commitment_links(session)
        ministry_code = {m.id or 0: m.code for m in repository.ministries(session)}
        rec_code = {r.id or 0: r.code for r in repository.recommendations(session)}
        for c in repository.commitments(session):
            yield {
                **c.model_dump(include=set(column_names(kind))),
                "recommendation_codes": _codes(recs_of.get(c.id or 0, set()), rec_code),
                "lead_ministry_code": ministry_code[c.lead_ministry_id],
                "supporting_ministry_codes": _codes(
                    support_of.get(c.id or 0, set()), ministry_code
                ),
            }
    elif kind is Kind.status_updates:
        yield from repository.status_update_rows(session)
    else:
        yield from repository.assessment_rows(session)


def export_file_names(fmt: ExportFormat) -> list[str]:
    if fmt is ExportFormat.xlsx:
        return ["vpitracker.xlsx"]
    return [f"{kind.value}.{fmt.value}" for kind in Kind]


def export(
    session: Session, fmt: ExportFormat, out_dir: Path, *, progress: Progress | None = None
) -> dict[str, int]:
    """Write every kind to ``out_dir``; returns rows written per file (or sheet)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = list(Kind)

    def rows_of(kind: Kind) -> Iterator[dict[str, Any]]:
        yield from export_rows(session, kind)
        if progress is not None:
            progress(kinds.index(kind) + 1, len(kinds))

    if fmt is ExportFormat.xlsx:
        counts = formats.write_xlsx(
            out_dir / "vpitracker.xlsx",
            ((kind.value, column_names(kind), rows_of(kind)) for kind in kinds),
        )
        return {f"vpitracker.xlsx:{sheet}": n for sheet, n in counts.items()}
    writer = formats.write_csv if fmt is ExportFormat.csv else formats.write_jsonl
    written: dict[str, int] = {}
    for kind in kinds:
        name = f"{kind.value}.{fmt.value}"
        written[name] = writer(out_dir / name, column_names(kind), rows_of(kind))
    return written
