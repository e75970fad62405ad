"""Recommendation rules: unique codes, known provisions, implementation state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import FromClause, Select
from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.audited import archive as archive_record
from vpitracker.errors import Conflict, Invalid, NotFound
from vpitracker.kernel import figures
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import RecommendationFilters
from vpitracker.kernel.state import ClockValues
from vpitracker.models import Recommendation, utcnow
from vpitracker.pagination import PageRequest
from vpitracker.provisions import service as provisions_service
from vpitracker.recommendations import repository
from vpitracker.recommendations.repository import RecommendationWithImplementation
from vpitracker.recommendations.schemas import (
    RecommendationCreate,
    RecommendationRead,
    RecommendationUpdate,
)
from vpitracker.records import apply_changes, flush_unique, or_404, patch_changes
from vpitracker.vocab import EntityType


def get(session: Session, recommendation_id: int, *, for_update: bool = False) -> Recommendation:
    rec = repository.get(session, recommendation_id, for_update=for_update)
    return or_404(rec, "No recommendation with id %(id)s", id=recommendation_id)


def require_active(session: Session, ids: Iterable[int], *, loc: list[str | int]) -> None:
    wanted = set(ids)
    missing = sorted(wanted - repository.active_ids(session, wanted))
    if missing:
        raise Invalid("Unknown or archived recommendation id(s): %(ids)s", loc=loc, ids=missing)


def _to_reads(
    session: Session, rows: Sequence[RecommendationWithImplementation]
) -> list[RecommendationRead]:
    provisions = repository.provisions_of(
        session, [row.recommendation.id for row in rows if row.recommendation.id is not None]
    )
    out = []
    for row in rows:
        rec = row.recommendation
        assert rec.id is not None
        linked = provisions[rec.id]
        out.append(
            RecommendationRead.model_validate(
                {
                    **rec.model_dump(),
                    "provision_keys": [key for key, _ in linked],
                    "clusters": sorted({c for _, c in linked if c is not None}),
                    "implementation": row.implementation,
                }
            )
        )
    return out


def read(session: Session, recommendation_id: int, clock: Clock) -> tuple[RecommendationRead, int]:
    row = repository.get_with_implementation(session, recommendation_id, clock)
    if row is None:
        raise NotFound("No recommendation with id %(id)s", id=recommendation_id)
    return _to_reads(session, [row])[0], row.recommendation.version


def implementation_query(
    clock: Clock | ClockValues,
    filters: RecommendationFilters,
    *,
    per_row: bool = False,
    statuses: FromClause | None = None,
) -> Select[Recommendation, str]:
    """Recommendations counted under ``filters`` at ``clock`` (a clock, or
    ``ClockValues.bound``), with implementation (a Select; ``per_row``: counted per
    recommendation, for a report streamed in order;
    ``statuses``: the commitments' statuses as the caller reads them, see
    ``repository.implementation_subquery``)."""
    return repository.select_with_implementation(clock, filters, per_row=per_row, statuses=statuses)


def list_recommendations(
    session: Session, *, clock: Clock, filters: RecommendationFilters, page: PageRequest
) -> tuple[list[RecommendationRead], str | None]:
    rows, next_cursor = repository.list_recommendations(
        session, clock=clock, filters=filters, page=page
    )
    return _to_reads(session, rows), next_cursor


def create(session: Session, actor: Actor, data: RecommendationCreate) -> Recommendation:
    """Record a recommendation and the provisions it concerns."""
    if repository.by_code(session, data.code) is not None:
        raise Conflict("A recommendation with code %(code)r already exists", code=data.code)
    provisions_service.require_existing(
        session, data.provision_keys, loc=["body", "provision_keys"]
    )
    rec = Recommendation(**data.model_dump(exclude={"provision_keys"}))
    session.add(rec)
    flush_unique(session, "A recommendation with code %(code)r already exists", code=data.code)
    assert rec.id is not None
    repository.set_provisions(session, rec.id, data.provision_keys)
    audit.record(
        session,
        actor,
        "recommendation.created",
        EntityType.recommendation,
        rec.id,
        {**audit.snapshot(rec), "provision_keys": sorted(set(data.provision_keys))},
    )
    return rec


_NOT_NULL = (
    "code",
    "title",
    "text",
    "source",
    "raised_by",
    "provision_keys",
    "priority",
    "government_response",
)


def update(
    session: Session,
    actor: Actor,
    recommendation_id: int,
    data: RecommendationUpdate,
    if_match: str | None,
) -> Recommendation:
    """Apply a PATCH guarded by ``If-Match``."""
    rec = get(session, recommendation_id, for_update=True)
    changes = patch_changes(rec, if_match, data, not_null=_NOT_NULL)
    if "code" in changes and changes["code"] != rec.code:
        if repository.by_code(session, changes["code"]) is not None:
            raise Conflict(
                "A recommendation with code %(code)r already exists", code=changes["code"]
            )
    old_keys = [
        k for k, _ in repository.provisions_of(session, [recommendation_id])[recommendation_id]
    ]
    new_keys = sorted(set(changes.pop("provision_keys", old_keys)))
    provisions_service.require_existing(session, new_keys, loc=["body", "provision_keys"])
    changed = apply_changes(rec, changes)
    if new_keys != old_keys:
        repository.set_provisions(session, recommendation_id, new_keys)
        figures.refresh(session, figures.of_recommendation(recommendation_id))
        if not changed:
            apply_changes(rec, {"updated_at": utcnow()})
        changed["provision_keys"] = {"old": old_keys, "new": new_keys}
    if changed:
        flush_unique(session, "A recommendation with that code already exists")
        audit.record(
            session,
            actor,
            "recommendation.updated",
            EntityType.recommendation,
            recommendation_id,
            changed,
        )
    return rec


def archive(session: Session, actor: Actor, recommendation_id: int) -> Recommendation:
    """Archive (never delete); archiving twice changes nothing."""
    rec = get(session, recommendation_id, for_update=True)
    archive_record(session, actor, EntityType.recommendation, rec, recommendation_id)
    return rec
