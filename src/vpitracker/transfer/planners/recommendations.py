"""Plan a recommendations file: provision keys from the catalogue, and edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from vpitracker.kernel.actor import Actor
from vpitracker.models import Recommendation
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.schemas import RecommendationCreate, RecommendationUpdate
from vpitracker.transfer import repository
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import common
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import RecommendationRow
from vpitracker.versioning import etag


def plan(
    session: Session, actor: Actor, rows: list[tuple[int, RecommendationRow]], errors: Errors
) -> list[Op]:
    existing = {r.code: r for r in repository.recommendations(session)}
    provisions = repository.provisions_by_recommendation(session)
    catalogue = repository.provision_keys(session)
    ops: list[Op] = []
    for number, row in common.first_rows(rows, lambda r: r.code, "code", errors):
        unknown = sorted(set(row.provision_keys) - catalogue)
        if unknown:
            errors.add(number, "provision_keys", f"unknown provision key(s): {', '.join(unknown)}")
            continue
        current = existing.get(row.code)
        if current is None:
            create = _create_recommendation(
                session, actor, RecommendationCreate(**row.model_dump())
            )
            ops.append(Op(number, row.code, "created", (number,), create))
            continue
        assert current.id is not None
        desired = row.model_dump(exclude={"code", "provision_keys"})
        changes = common.changes(current, desired)
        if common.blank(current.response_note) == row.response_note:
            changes.pop("response_note", None)
        keys = sorted(set(row.provision_keys))
        if keys != sorted(provisions.get(current.id, [])):
            changes["provision_keys"] = keys
        if not changes:
            ops.append(Op(number, row.code, "unchanged"))
            continue
        update = _update_recommendation(session, actor, current.id, current, changes)
        ops.append(Op(number, row.code, "updated", (number,), update))
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
        common.reload(session, current)
        recommendations_service.update(
            session, actor, rec_id, RecommendationUpdate(**changes), seen
        )

    return apply
