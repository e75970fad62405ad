"""Plan a commitments file: the codes it links to, dates, archived links, and edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentUpdate
from vpitracker.kernel.actor import Actor
from vpitracker.models import Commitment, utcnow
from vpitracker.transfer import repository
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import common
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import CommitmentRow
from vpitracker.versioning import etag


def plan(
    session: Session, actor: Actor, rows: list[tuple[int, CommitmentRow]], errors: Errors
) -> list[Op]:
    existing = {c.code: c for c in repository.commitments(session)}
    recs_of, support_of = repository.commitment_links(session)
    ministries = {m.code: m for m in repository.ministries(session)}
    recommendations = {r.code: r for r in repository.recommendations(session)}
    today = utcnow().date()
    ops: list[Op] = []
    for number, row in common.first_rows(rows, lambda r: r.code, "code", errors):
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
            changes = common.changes(current, desired)
            old_recs = recs_of.get(current.id, set())
            if set(recs) != old_recs:
                changes["recommendation_ids"] = recs
            if set(support) != support_of.get(current.id, set()):
                changes["supporting_ministry_ids"] = support
            if not changes:
                ops.append(Op(number, row.code, "unchanged"))
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
            ops.append(Op(number, row.code, "created", (number,), create))
        else:
            update = _update_commitment(session, actor, current, changes)
            ops.append(Op(number, row.code, "updated", (number,), update))
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
        common.reload(session, current)
        commitments_service.update(session, actor, current.id, CommitmentUpdate(**changes), seen)

    return apply
