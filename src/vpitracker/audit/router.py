"""HTTP routes for the audit chain."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse

from vpitracker.audit import service, transparency
from vpitracker.audit.schemas import (
    ActorRead,
    AuditEventRead,
    Change,
    ChangeFeed,
    ConsistencyProof,
    InclusionProof,
    VerifyResult,
)
from vpitracker.deps import Assessor, LogReader, Reader, Secretariat, SessionDep, SettingsDep
from vpitracker.errors import Invalid, responses
from vpitracker.models import AuditEvent
from vpitracker.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from vpitracker.resources import page_of
from vpitracker.routing import ApiRoute

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=ApiRoute)
MAX_SEQ = service.MAX_SEQ


@router.get("/events", operation_id="audit-events-list", responses=responses(401, 403, 422))
def list_events(
    request: Request,
    response: Response,
    session: SessionDep,
    _actor: Secretariat,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
) -> Page[AuditEventRead]:
    """The chain in ``seq`` order; the cursor is the last ``seq`` seen."""
    events, next_cursor = service.list_events(session, cursor=cursor, limit=limit)
    return page_of(request, response, [_event_read(e) for e in events], next_cursor)


def _event_read(e: AuditEvent) -> AuditEventRead:
    return AuditEventRead(
        seq=e.seq,
        at=e.at,
        actor=ActorRead(type=e.actor_type, id=e.actor_id, role=e.actor_role),
        action=e.action,
        entity_type=e.entity_type,
        entity_id=e.entity_id,
        data=json.loads(e.data),
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


Seq = Annotated[int, Query(ge=1, le=MAX_SEQ)]


@router.get(
    "/checkpoint",
    operation_id="audit-checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **responses(401, 503),
    },
)
def checkpoint(session: SessionDep, settings: SettingsDep, _actor: LogReader) -> Response:
    """The current tree head: a C2SP tlog-checkpoint in an Ed25519-signed note."""
    body = transparency.checkpoint(session, settings)
    return PlainTextResponse(body, media_type="text/plain; charset=utf-8")


@router.get(
    "/proof/inclusion",
    operation_id="audit-proof-inclusion",
    responses=responses(401, 404, 422, 503),
)
def inclusion_proof(
    session: SessionDep, _actor: LogReader, seq: Seq, tree_size: Seq
) -> InclusionProof:
    """RFC 9162 inclusion proof of event ``seq`` (leaf seq - 1) in the tree of ``tree_size``."""
    hashes = transparency.inclusion(session, seq, tree_size)
    return InclusionProof(leaf_index=seq - 1, tree_size=tree_size, hashes=_b64(hashes))


@router.get(
    "/proof/consistency",
    operation_id="audit-proof-consistency",
    responses=responses(401, 404, 422, 503),
)
def consistency_proof(
    session: SessionDep, _actor: LogReader, first: Seq, second: Seq
) -> ConsistencyProof:
    """RFC 9162 consistency proof that the tree of ``second`` extends the tree of ``first``."""
    hashes = transparency.consistency(session, first, second)
    return ConsistencyProof(first=first, second=second, hashes=_b64(hashes))


@router.get("/events/{seq}", operation_id="audit-event-get", responses=responses(401, 404, 422))
def get_event(
    session: SessionDep, actor: LogReader, seq: Annotated[int, Path(ge=1, le=MAX_SEQ)]
) -> AuditEventRead:
    """One event, to recompute its leaf; events about users and keys only for the secretariat."""
    return _event_read(transparency.public_event(session, actor, seq))


@router.get("/verify", operation_id="audit-verify", responses=responses(401, 403, 422))
def verify(
    session: SessionDep,
    _actor: Assessor,
    from_seq: Annotated[
        int | None,
        Query(ge=1, le=2**62, description="A published head's seq; send it with expected_hash"),
    ] = None,
    expected_hash: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="The published head's hash; send it with from_seq (422 alone)",
        ),
    ] = None,
) -> VerifyResult:
    """Recompute the chain; with a published head, prove history since then only grew."""
    if (from_seq is None) != (expected_hash is None):
        raise Invalid("from_seq and expected_hash go together", loc=["query", "expected_hash"])
    result = service.verify(session, from_seq=from_seq, expected_hash=expected_hash)
    return VerifyResult.of(result)


changes_router = APIRouter(prefix="/v1/changes", tags=["changes"], route_class=ApiRoute)


@changes_router.get("", operation_id="changes-list", responses=responses(401, 403, 422))
def list_changes(
    session: SessionDep,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=20, pattern=r"^[0-9]+$", description="From next_cursor")
    ] = None,
) -> ChangeFeed:
    """Changes after the cursor, oldest first; poll again with next_cursor (never null).

    Only the secretariat sees changes to users, API keys and webhook subscriptions;
    everyone else the public record's (ministries, provisions, recommendations,
    commitments, updates, assessments).
    """
    events, position = service.changes(session, actor, cursor=cursor, limit=limit)
    return ChangeFeed(
        items=[
            Change(
                seq=e.seq,
                at=e.at,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
                action=e.action,
            )
            for e in events
        ],
        next_cursor=str(position),
    )
