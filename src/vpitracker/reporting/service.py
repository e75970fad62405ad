"""Who may report on which commitment, and the append-only records themselves."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import UTC, datetime

from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.commitments import repository as commitments_repository
from vpitracker.commitments import service as commitments_service
from vpitracker.errors import Conflict, Forbidden, Invalid, NotFound
from vpitracker.kernel.actor import Actor
from vpitracker.models import Assessment, Commitment, StatusUpdate, utcnow
from vpitracker.pagination import PageRequest
from vpitracker.records import or_404
from vpitracker.reporting import repository
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate, evidence_rows
from vpitracker.vocab import EntityType, Role


def _open_commitment(session: Session, commitment_id: int) -> Commitment:
    commitment = commitments_service.get(session, commitment_id, for_update=True)
    if commitment.archived_at is not None:
        raise Conflict(
            "Commitment %(id)s is archived; nothing can be posted on it", id=commitment_id
        )
    return commitment


def _ministries_on(session: Session, commitment: Commitment) -> set[int]:
    assert commitment.id is not None
    _, support = commitments_repository.links(session, [commitment.id])
    return {commitment.lead_ministry_id, *support[commitment.id]}


def may_report_for(role: Role, own_ministries: AbstractSet[int], ministry_id: int) -> bool:
    """Whether someone may report for a ministry on a commitment it leads or supports:
    an officer only for their own ministries (the API and the import ask the same)."""
    return role is not Role.government_officer or ministry_id in own_ministries


def _mine(actor: Actor, on_commitment: set[int]) -> set[int]:
    return {m for m in on_commitment if may_report_for(actor.role, actor.ministry_ids, m)}


def reporting_ministries(session: Session, actor: Actor, commitment: Commitment) -> set[int]:
    """The ministries ``actor`` may report for on ``commitment`` (empty: may not report)."""
    return _mine(actor, _ministries_on(session, commitment))


def _reporting_ministry(
    actor: Actor, commitment: Commitment, on_commitment: set[int], named: int | None
) -> int:
    """The ministry an update is posted for; 403 when the officer may not report."""
    if actor.role is Role.government_officer:
        mine = _mine(actor, on_commitment)
        if not mine:
            raise Forbidden("None of your ministries leads or supports this commitment")
        if named is not None:
            if named not in mine:
                raise Forbidden(
                    "You cannot report for ministry %(ministry)s on this commitment", ministry=named
                )
            return named
        if commitment.lead_ministry_id in mine:
            return commitment.lead_ministry_id
        if len(mine) == 1:
            return next(iter(mine))
        raise Invalid(
            "You have several ministries on this commitment; name one in ministry_id",
            loc=["body", "ministry_id"],
        )
    if named is not None and named not in on_commitment:
        raise Invalid("ministry_id is not on this commitment", loc=["body", "ministry_id"])
    return named if named is not None else commitment.lead_ministry_id


def _of(record: StatusUpdate | Assessment | None, commitment_id: int) -> bool:
    """Whether a report a new one names (the one it replies to, or assesses) exists and is
    of the same commitment."""
    return record is not None and record.commitment_id == commitment_id


def post_update(
    session: Session,
    actor: Actor,
    commitment_id: int,
    data: StatusUpdateCreate,
    *,
    reported_at: datetime | None = None,
    imported_by: Actor | None = None,
) -> StatusUpdate:
    """Append a status update (``reported_at`` only from the historical import).

    An import is audited with the operator who ran it (``imported_by``) as actor;
    the update itself names the officer who reported it.
    """
    commitment = _open_commitment(session, commitment_id)
    on_commitment = _ministries_on(session, commitment)
    ministry_id = _reporting_ministry(actor, commitment, on_commitment, data.ministry_id)
    replied = data.in_reply_to_assessment_id
    if replied is not None and not _of(repository.get_assessment(session, replied), commitment_id):
        raise Invalid(
            "in_reply_to_assessment_id must name an assessment of this commitment",
            loc=["body", "in_reply_to_assessment_id"],
        )
    update = StatusUpdate(
        commitment_id=commitment_id,
        ministry_id=ministry_id,
        status=data.status.value,
        progress_percent=data.progress_percent,
        summary=data.summary,
        evidence=evidence_rows(data.evidence),
        in_reply_to_assessment_id=replied,
        reported_by=actor.id,
        reported_at=reported_at or utcnow(),
        imported=reported_at is not None,
    )
    _append(session, update, EntityType.status_update, imported_by or actor, on_commitment)
    return update


def post_assessment(
    session: Session,
    actor: Actor,
    commitment_id: int,
    data: AssessmentCreate,
    *,
    assessed_at: datetime | None = None,
    imported_by: Actor | None = None,
) -> Assessment:
    """Append the alliance's assessment (``assessed_at`` only from the historical import)."""
    _open_commitment(session, commitment_id)
    assessed = data.status_update_id
    if assessed is not None and not _of(repository.get_update(session, assessed), commitment_id):
        raise Invalid(
            "status_update_id must name a status update of this commitment",
            loc=["body", "status_update_id"],
        )
    assessment = Assessment(
        commitment_id=commitment_id,
        status_update_id=assessed,
        verdict=data.verdict.value,
        assessed_status=data.assessed_status.value,
        rationale=data.rationale,
        evidence=evidence_rows(data.evidence),
        assessed_by=actor.id,
        assessed_at=assessed_at or utcnow(),
        imported=assessed_at is not None,
    )
    _append(session, assessment, EntityType.assessment, imported_by or actor)
    return assessment


def _append(
    session: Session,
    record: StatusUpdate | Assessment,
    entity: EntityType,
    author: Actor,
    ministries: set[int] | None = None,
) -> None:
    """Write a new report, make it the commitment's newest if it is, and audit it.

    ``author`` is the poster, or for an import the operator who ran it; ``ministries``,
    the commitment's lead and supporting ministries when already read. The report is
    written with one INSERT built once (it is never changed after), not through the
    session's unit of work.
    """
    repository.insert_report(session, record)
    assert record.id is not None
    counts = commitments_service.note_report(session, record)
    action = f"{entity.value}.imported" if record.imported else f"{entity.value}.posted"
    # A post reads nothing of its event afterwards: appended by the commit. An import
    # appends many events in one transaction, each now.
    append = audit.record if record.imported else audit.record_at_commit
    append(
        session,
        author,
        action,
        entity,
        record.id,
        audit.snapshot(record),
        with_event=counts,
        ministry_ids=ministries,
    )


def get_update(session: Session, update_id: int) -> StatusUpdate:
    update = repository.get_update(session, update_id)
    return or_404(update, "No status update with id %(id)s", id=update_id)


def get_assessment_by_id(session: Session, assessment_id: int) -> Assessment:
    assessment = repository.get_assessment(session, assessment_id)
    return or_404(assessment, "No assessment with id %(id)s", id=assessment_id)


def get_assessment(session: Session, commitment_id: int, assessment_id: int) -> Assessment:
    assessment = repository.get_assessment(session, assessment_id)
    if assessment is None or assessment.commitment_id != commitment_id:
        raise NotFound(
            "No assessment %(assessment)s of commitment %(commitment)s",
            assessment=assessment_id,
            commitment=commitment_id,
        )
    return assessment


def list_updates(
    session: Session,
    *,
    commitment_id: int | None = None,
    ministry_id: int | None = None,
    reported_by: int | None = None,
    since: datetime | None = None,
    page: PageRequest,
) -> tuple[list[StatusUpdate], str | None]:
    if commitment_id is not None and commitments_repository.get(session, commitment_id) is None:
        raise NotFound("No commitment with id %(id)s", id=commitment_id)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # every timestamp is UTC (docs/concepts.md)
    return repository.list_updates(
        session,
        commitment_id=commitment_id,
        ministry_id=ministry_id,
        reported_by=reported_by,
        since=since,
        page=page,
    )


def list_assessments(
    session: Session, *, commitment_id: int, page: PageRequest
) -> tuple[list[Assessment], str | None]:
    if commitments_repository.get(session, commitment_id) is None:
        raise NotFound("No commitment with id %(id)s", id=commitment_id)
    return repository.list_assessments(session, commitment_id=commitment_id, page=page)
