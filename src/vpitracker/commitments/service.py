"""Commitment rules: unique codes, valid ministries and recommendations, derived state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Literal, overload

from pydantic import TypeAdapter
from sqlalchemy import Select
from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.audited import archive as archive_record
from vpitracker.commitments import latest, repository, timeline_days
from vpitracker.commitments.repository import CommitmentValues
from vpitracker.commitments.repository import FilterShape as FilterShape
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentRead, CommitmentUpdate
from vpitracker.db import Bound
from vpitracker.errors import Conflict, Invalid
from vpitracker.kernel import figures
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.kernel.state import StateValues
from vpitracker.ministries import service as ministries_service
from vpitracker.models import Assessment, Commitment, StatusUpdate, utcnow
from vpitracker.pagination import PageRequest
from vpitracker.recommendations import service as recommendations_service
from vpitracker.records import apply_changes, flush_unique, or_404, patch_changes
from vpitracker.vocab import EntityType


def get(session: Session, commitment_id: int, *, for_update: bool = False) -> Commitment:
    commitment = repository.get(session, commitment_id, for_update=for_update)
    return or_404(commitment, "No commitment with id %(id)s", id=commitment_id)


# One validation of a whole page (in pydantic's core), not one model_validate per row.
_READS = TypeAdapter(list[CommitmentRead])


def _to_reads(session: Session, rows: Sequence[dict[str, Any]]) -> list[CommitmentRead]:
    """Rows of ``repository.list_commitments``/``get_with_state`` as read bodies (each
    row's dict gets its links)."""
    recs, support = repository.links(session, [row["id"] for row in rows])
    for row in rows:
        row["recommendation_ids"] = recs[row["id"]]
        row["supporting_ministry_ids"] = support[row["id"]]
    return _READS.validate_python(rows)


def read(session: Session, commitment_id: int, clock: Clock) -> tuple[CommitmentRead, int]:
    """The commitment with its derived state, and its version (for the ETag)."""
    row = or_404(
        repository.get_with_state(session, commitment_id, clock),
        "No commitment with id %(id)s",
        id=commitment_id,
    )
    return _to_reads(session, [row])[0], row["version"]


@overload
def state_query(
    clock: Clock, filters: CommitmentFilters, *, with_state: Literal[True] = ...
) -> Select[*CommitmentValues, *StateValues]: ...
@overload
def state_query(
    clock: Clock, filters: CommitmentFilters, *, with_state: Literal[False]
) -> Select[*CommitmentValues]: ...
@overload
def state_query(
    clock: Clock, filters: CommitmentFilters, *, with_state: bool
) -> Select[*CommitmentValues, *StateValues] | Select[*CommitmentValues]: ...
def state_query(
    clock: Clock, filters: CommitmentFilters, *, with_state: bool = True
) -> Select[*CommitmentValues, *StateValues] | Select[*CommitmentValues]:
    """Commitments counted under ``filters`` at ``clock`` (a Select): with their derived
    state, or (``with_state=False``, cheaper) their own columns alone."""
    if with_state:
        return repository.select_with_state(clock, filters)
    return repository.select_commitments(clock, filters)


def state_shape(
    clock: Clock, filters: CommitmentFilters
) -> tuple[FilterShape, dict[str, Any]] | None:
    """``filters`` at ``clock`` as a statement's shape and the values it is run with (the
    clock's too), for ``bound_state_query``; None when ``q`` is set (built per request)."""
    return repository.filter_shape(clock, filters)


def bound_state_query(shape: FilterShape) -> Select[*CommitmentValues, *StateValues]:
    """``state_query`` with derived state for ``shape``, every value a bound parameter:
    built once per shape, run with the values ``state_shape`` gave."""
    return repository.bound_with_state(shape)


def bound_commitments_query(shape: FilterShape) -> Select[*CommitmentValues]:
    """``state_query`` without derived state for ``shape`` (see ``bound_state_query``)."""
    return repository.bound_commitments(shape)


def list_commitments(
    session: Session, *, clock: Clock, filters: CommitmentFilters, page: PageRequest
) -> tuple[list[CommitmentRead], str | None]:
    rows, next_cursor = repository.list_commitments(
        session, clock=clock, filters=filters, page=page
    )
    return _to_reads(session, rows), next_cursor


def _check_links(
    session: Session, lead: int, supporting: list[int], recommendation_ids: list[int]
) -> None:
    ministries_service.require_active(session, [lead], loc=["body", "lead_ministry_id"])
    if lead in supporting:
        raise Invalid(
            "The lead ministry cannot also be a supporting ministry",
            loc=["body", "supporting_ministry_ids"],
        )
    ministries_service.require_active(session, supporting, loc=["body", "supporting_ministry_ids"])
    recommendations_service.require_active(
        session, recommendation_ids, loc=["body", "recommendation_ids"]
    )


def create(session: Session, actor: Actor, data: CommitmentCreate) -> Commitment:
    """Record a government commitment."""
    if repository.by_code(session, data.code) is not None:
        raise Conflict("A commitment with code %(code)r already exists", code=data.code)
    _check_links(
        session, data.lead_ministry_id, data.supporting_ministry_ids, data.recommendation_ids
    )
    committed_on = data.committed_on or utcnow().date()
    if data.due_date < committed_on:
        raise Invalid("due_date must not be before committed_on", loc=["body", "due_date"])
    commitment = Commitment(
        **data.model_dump(
            exclude={"recommendation_ids", "supporting_ministry_ids", "committed_on"}
        ),
        committed_on=committed_on,
    )
    session.add(commitment)
    flush_unique(session, "A commitment with code %(code)r already exists", code=data.code)
    assert commitment.id is not None
    repository.set_links(
        session,
        commitment.id,
        recommendation_ids=data.recommendation_ids,
        supporting_ministry_ids=data.supporting_ministry_ids,
    )
    figures.refresh(session, [commitment.id])
    audit.record(
        session,
        actor,
        "commitment.created",
        EntityType.commitment,
        commitment.id,
        {
            **audit.snapshot(commitment),
            "recommendation_ids": sorted(set(data.recommendation_ids)),
            "supporting_ministry_ids": sorted(set(data.supporting_ministry_ids)),
        },
        with_event=timeline_days.rewrite(session, [commitment.id]),
    )
    return commitment


def update(
    session: Session, actor: Actor, commitment_id: int, data: CommitmentUpdate, if_match: str | None
) -> Commitment:
    """Apply a PATCH guarded by ``If-Match``."""
    commitment = get(session, commitment_id, for_update=True)
    changes = patch_changes(commitment, if_match, data, not_null=CommitmentUpdate.model_fields)
    if "code" in changes and changes["code"] != commitment.code:
        if repository.by_code(session, changes["code"]) is not None:
            raise Conflict("A commitment with code %(code)r already exists", code=changes["code"])
    recs, support = repository.links(session, [commitment_id])
    old_recs, old_support = recs[commitment_id], support[commitment_id]
    new_recs = sorted(set(changes.pop("recommendation_ids", old_recs)))
    new_support = sorted(set(changes.pop("supporting_ministry_ids", old_support)))
    old_lead = commitment.lead_ministry_id
    lead = changes.get("lead_ministry_id", old_lead)
    _check_links(
        session,
        lead,
        new_support,
        [r for r in new_recs if r not in old_recs],
    )
    committed_on: date = changes.get("committed_on", commitment.committed_on)
    due_date: date = changes.get("due_date", commitment.due_date)
    if due_date < committed_on:
        raise Invalid("due_date must not be before committed_on", loc=["body", "due_date"])
    changed = apply_changes(commitment, changes)
    extra: dict[str, dict[str, Any]] = {}
    if new_recs != old_recs:
        extra["recommendation_ids"] = {"old": old_recs, "new": new_recs}
    if new_support != old_support:
        extra["supporting_ministry_ids"] = {"old": old_support, "new": new_support}
    if extra:
        repository.set_links(
            session,
            commitment_id,
            recommendation_ids=new_recs if "recommendation_ids" in extra else None,
            supporting_ministry_ids=new_support if "supporting_ministry_ids" in extra else None,
        )
        if not changed:
            apply_changes(commitment, {"updated_at": utcnow()})
    changed.update(extra)
    if changed:
        flush_unique(session, "A commitment with that code already exists")
        figures.refresh(session, [commitment_id])
        # The timeline's rows follow the dates, its ministries' sums the ministries too;
        # links and archive are picked at reading.
        dated = "committed_on" in changed or "due_date" in changed
        moved = "lead_ministry_id" in changed or "supporting_ministry_ids" in changed
        before = {commitment_id: {old_lead, *old_support}} if moved else None
        audit.record(
            session,
            actor,
            "commitment.updated",
            EntityType.commitment,
            commitment_id,
            changed,
            with_event=timeline_days.rewrite(session, [commitment_id], ministries_before=before)
            if dated or moved
            else (),
        )
    return commitment


def archive(session: Session, actor: Actor, commitment_id: int) -> Commitment:
    """Archive (never delete); archiving twice changes nothing."""
    commitment = get(session, commitment_id, for_update=True)
    figures.forget(session, commitment_id)  # an archived commitment is counted nowhere
    archive_record(session, actor, EntityType.commitment, commitment, commitment_id)
    return commitment


def note_report(session: Session, record: StatusUpdate | Assessment) -> list[Bound]:
    """Record a new status update or assessment as the commitment's newest (if it is).

    Returns the counts it adds to (a status update: its month's and its days' timeline
    moves), to be written with its audit event under the chain lock
    (``audit.record(with_event=...)``).
    """
    days = latest.note_report(session, record)
    if not isinstance(record, StatusUpdate):
        return days
    return [latest.month_count(record.reported_at), *days]


def refresh_latest(session: Session, commitment_ids: Iterable[int] | None = None) -> None:
    """Rebuild the newest-update cache from the history (after bulk loads)."""
    latest.refresh_latest(session, commitment_ids)
