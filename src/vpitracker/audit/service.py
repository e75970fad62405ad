"""Append to and verify the hash-chained audit trail (docs/concepts.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, SQLModel

from vpitracker.audit import repository, transparency
from vpitracker.audit.replay import Problem, Replay, earliest
from vpitracker.db import Bound, at_commit, is_postgres, run_queued, write_together
from vpitracker.jsonutil import canonical, iso_z, plain, quoted
from vpitracker.kernel.actor import Actor
from vpitracker.models import Assessment, AuditEvent, StatusUpdate, utcnow
from vpitracker.outbox import service as outbox
from vpitracker.vocab import EntityType

GENESIS_HASH = "0" * 64
CoveredRows = Callable[[Session, list[int]], Mapping[int, SQLModel]]


def snapshot(row: SQLModel, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every column of a row as plain JSON values."""
    mapper = sa_inspect(type(row))
    return {c.key: plain(getattr(row, c.key)) for c in mapper.column_attrs if c.key not in exclude}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The changed fields with old and new values."""
    return {k: {"old": before.get(k), "new": v} for k, v in after.items() if before.get(k) != v}


def _payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": iso_z(event.at),
        "actor": {"type": event.actor_type, "id": event.actor_id, "role": event.actor_role},
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "data": json.loads(event.data),
    }


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash verification recomputes: of the event's payload as canonical JSON."""
    return hashlib.sha256((prev_hash + canonical(_payload(event))).encode("utf-8")).hexdigest()


class _Unhashed:
    """``canonical(_payload(event))`` of an event still without its seq and time.

    The payload's keys in canonical (sorted) order are action, actor, at, data,
    entity_id, entity_type, seq: everything but ``at`` and ``seq`` is serialized once,
    before the chain lock, and under it only the two are filled in. ``data`` is
    already canonical text (canonical JSON read back and written again is the same
    text), so it is not parsed again. ``head`` (up to ``"at":``) and ``tail`` (up to
    ``"seq":``) are also what PostgreSQL's ``audit_append`` hashes around the time and
    seq it takes under the lock. ``compute_hash``, which verification uses, is the
    reference: tests hold both to the same hash.
    """

    def __init__(self, event: AuditEvent) -> None:
        actor = canonical(
            {"type": event.actor_type, "id": event.actor_id, "role": event.actor_role}
        )
        self.head = f'{{"action":{quoted(event.action)},"actor":{actor},"at":'
        self.tail = (
            f',"data":{event.data},"entity_id":{quoted(event.entity_id)},'
            f'"entity_type":{quoted(event.entity_type)},"seq":'
        )

    def hash(self, prev_hash: str, seq: int, at: str) -> str:
        text = f"{prev_hash}{self.head}{quoted(at)}{self.tail}{seq}}}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _new_event(
    actor: Actor | None,
    action: str,
    entity_type: EntityType,
    entity_id: int | str,
    data: dict[str, Any],
    actor_type: str,
) -> AuditEvent:
    """The event without its place on the chain (seq, time, hashes)."""
    return AuditEvent(
        seq=0,
        at=utcnow(),
        actor_type=actor.kind if actor else actor_type,
        actor_id=actor.id if actor else None,
        actor_role=actor.role.value if actor else None,
        action=action,
        entity_type=entity_type.value,
        entity_id=str(entity_id),
        data=canonical(data),
        prev_hash=GENESIS_HASH,
        hash="",
    )


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    entity_type: EntityType,
    entity_id: int | str,
    data: dict[str, Any],
    *,
    actor_type: str = "anonymous",
    with_event: Sequence[Bound] = (),
    ministry_ids: Collection[int] | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction, now.

    Without an actor, ``actor_type`` says who wrote (``anonymous``, the ``worker``).
    ``with_event``: writes every such change makes to one shared row (a count), made
    under the chain lock, which already serializes them, and in the event's statement.
    ``ministry_ids``: the commitment's ministries, when the caller has read them (the
    outbox's ``prepare`` then does not).

    The chain lock is held until the commit, so the time from taking it to the commit
    bounds how many writes a second the whole deployment makes. Everything that does
    not need the chain's head is done before it: the caller's own writes (flushed
    here), the event's canonical text, the outbox's reads. Under it, on PostgreSQL, three
    round trips: the lock with the head and the Merkle siblings (``lock_head``), one
    statement writing the event, its nodes, its outbox rows and ``with_event``, and
    the caller's commit. A row only one commitment's posts write belongs before this
    call (flushed here); one that every post writes, in ``with_event``. A caller that
    does not need the event in its transaction uses ``record_at_commit``: no round trip
    under the lock. Appends it queued run first, so the chain keeps the calls' order.
    """
    run_queued(session)
    event = _new_event(actor, action, entity_type, entity_id, data, actor_type)
    unhashed = _Unhashed(event)
    notice = outbox.prepare(
        session, action, event.entity_type, event.entity_id, event.data, ministry_ids=ministry_ids
    )
    session.flush()  # the caller's pending changes, before the lock rather than under it
    locked = repository.lock_head(session)
    last = locked.head
    if last is not None:
        event.seq, event.prev_hash = last[0] + 1, last[1]
    else:
        event.seq = 1
    event.at = utcnow()
    event.hash = unhashed.hash(event.prev_hash, event.seq, iso_z(event.at))
    nodes = transparency.leaf_nodes(
        session, event.seq - 1, event.hash, last[1] if last else None, locked.nodes
    )
    writes = [repository.event_insert(event), *repository.merkle_rows(nodes)]
    if notice is not None:
        writes.append(outbox.queued(notice, event))
    write_together(session, [*writes, *with_event])
    return event


def record_at_commit(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: EntityType,
    entity_id: int | str,
    data: dict[str, Any],
    *,
    with_event: Sequence[Bound] = (),
    ministry_ids: Collection[int] | None = None,
) -> None:
    """``record``, with the append made by the transaction's commit.

    On PostgreSQL the event is appended after everything else the transaction writes,
    by ``audit_append`` (migration 0014_append: the lock, the head, the hash, the Merkle
    nodes, the event and its outbox rows in one call), and then ``with_event``, all sent
    with the COMMIT in one message (``db.at_commit``): the chain lock is held for the
    server's work and the commit's WAL flush, not for a round trip of this process. So
    nothing in the transaction can read the event (none is returned): a caller that
    needs its seq or hash, or the rows it writes, uses ``record``. On SQLite it is
    ``record`` (its write transactions are serial from ``BEGIN IMMEDIATE``).
    """
    if not is_postgres(session):
        record(
            session,
            actor,
            action,
            entity_type,
            entity_id,
            data,
            with_event=with_event,
            ministry_ids=ministry_ids,
        )
        return
    event = _new_event(actor, action, entity_type, entity_id, data, "anonymous")
    unhashed = _Unhashed(event)
    notice = outbox.prepare(
        session, action, event.entity_type, event.entity_id, event.data, ministry_ids=ministry_ids
    )
    values = outbox.append_values(notice) if notice is not None else None
    call = repository.append_call(event, unhashed.head, unhashed.tail, values)
    at_commit(session, call, with_event)


@dataclass
class Verification:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    detail: str
    # The record found there (None for the chain itself: a missing event, a cut tail).
    entity_type: str | None = None
    entity_id: str | None = None


# Rows whose whole content the event that created them covers.
_COVERED: dict[str, tuple[type[StatusUpdate] | type[Assessment], CoveredRows]] = {
    EntityType.status_update.value: (StatusUpdate, repository.status_updates_by_id),
    EntityType.assessment.value: (Assessment, repository.assessments_by_id),
}
_POSTED = (".posted", ".imported")


def _broken_link(
    event: AuditEvent,
    expected_seq: int,
    prev_hash: str,
    from_seq: int | None,
    expected_hash: str | None,
) -> Problem | None:
    """Why ``event`` breaks the chain at this position, or None."""
    if event.seq != expected_seq:
        return Problem(expected_seq, f"event {expected_seq} is missing")
    about = (event.entity_type, event.entity_id)
    if event.prev_hash != prev_hash:
        return Problem(event.seq, f"event {event.seq} does not link to its predecessor", *about)
    if compute_hash(prev_hash, event) != event.hash:
        return Problem(event.seq, f"event {event.seq} was altered", *about)
    published = from_seq is not None and expected_hash is not None
    if published and event.seq == from_seq and event.hash != expected_hash:
        return Problem(event.seq, f"event {event.seq} differs from the published head", *about)
    return None


def _first_bad_covered(
    session: Session, pending: dict[str, dict[int, AuditEvent]]
) -> Problem | None:
    """The lowest seq whose covered status update or assessment was deleted or altered."""
    found: Problem | None = None
    for entity_type, events in pending.items():
        rows = _COVERED[entity_type][1](session, list(events))
        for entity_id, event in events.items():
            row = rows.get(entity_id)
            if row is None:
                why = f"{entity_type} {entity_id} was deleted (event {event.seq} posted it)"
            elif canonical(snapshot(row)) != canonical(json.loads(event.data)):
                why = f"{entity_type} {entity_id} differs from event {event.seq}, which posted it"
            else:
                continue
            found = earliest(found, Problem(event.seq, why, entity_type, str(entity_id)))
    return found


def _first_uncovered(session: Session, entity_type: str, head_seq: int) -> Problem | None:
    """The lowest-id status update or assessment no event posted, and where it shows.

    Its seq is the first event that posts a higher id (ids are handed out in order, so
    the row was written before it), else ``head_seq + 1``.
    """
    model = _COVERED[entity_type][0]
    posted = repository.posted_ids(session, entity_type, _POSTED)
    wanted = next(posted, None)
    for row_id in repository.row_ids(session, model):
        while wanted is not None and wanted < row_id:
            wanted = next(posted, None)
        if wanted != row_id:
            seq = repository.first_posting_above(session, entity_type, _POSTED, row_id)
            why = f"{entity_type} {row_id} exists, but no audit event covers it"
            return Problem(seq or head_seq + 1, why, entity_type, str(row_id))
    return None


def verify(
    session: Session,
    *,
    from_seq: int | None = None,
    expected_hash: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Recompute the chain, then compare every record it covers with its newest event.

    One pass over the events in ``seq`` order (in batches): each link is checked, each
    posted status update and assessment compared with the event that posted it, and
    the events of ministries, provisions, recommendations, commitments, users, API keys
    and webhook subscriptions replayed (``replay.py``); then each of those tables is
    read once and compared with the replayed state. The result names the earliest
    ``seq`` that does not hold and the record there. Once the chain itself is broken
    (a missing or altered event, a cut tail), that break is the answer: the state its
    events record cannot be trusted.
    """
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    head_seq, head_hash = 0, GENESIS_HASH
    covered_seen: dict[str, int] = dict.fromkeys(_COVERED, 0)
    replayed = Replay()
    found: Problem | None = None

    def result(problem: Problem | None) -> Verification:
        if problem is None:
            return Verification(True, checked, head_seq, head_hash, None, "the chain verifies")
        return Verification(
            False,
            checked,
            head_seq,
            head_hash,
            problem.seq,
            problem.detail,
            problem.entity_type,
            problem.entity_id,
        )

    newest = repository.head(session) if progress is not None else None
    total = newest[0] if newest else 0
    for batch in repository.iter_events(session):
        if progress is not None:
            progress(checked, total)
        pending: dict[str, dict[int, AuditEvent]] = {k: {} for k in _COVERED}
        broken: Problem | None = None
        for event in batch:
            broken = _broken_link(event, expected_seq, prev_hash, from_seq, expected_hash)
            if broken is not None:
                break
            if event.entity_type in pending and event.action.endswith(_POSTED):
                pending[event.entity_type][int(event.entity_id)] = event
            replayed.apply(event)
            prev_hash = event.hash
            head_seq, head_hash = event.seq, event.hash
            expected_seq += 1
            checked += 1
        # Rows covered by earlier events of this batch come before a broken link.
        found = earliest(found, _first_bad_covered(session, pending))
        if broken is not None:
            return result(earliest(found, broken))
        for entity_type, events in pending.items():
            covered_seen[entity_type] += len(events)
    if from_seq is not None and expected_hash is not None and head_seq < from_seq:
        cut = Problem(head_seq + 1, f"the chain ends before the published head {from_seq}")
        return result(earliest(found, cut))
    for entity_type, (model, _) in _COVERED.items():
        # A deleted row can hide an inserted one from the count: once anything is wrong,
        # look for uncovered rows anyway (a pass over the ids; only when it fails).
        if found is not None or repository.count_rows(session, model) != covered_seen[entity_type]:
            found = earliest(found, _first_uncovered(session, entity_type, head_seq))
    return result(earliest(found, replayed.compare(session, head_seq)))


# A cursor past the last seq reads nothing; clamped so the query fits the 32-bit column.
MAX_SEQ = 2**31 - 1


def _after(cursor: str | None) -> int:
    return min(int(cursor), MAX_SEQ) if cursor else 0


def list_events(
    session: Session, *, cursor: str | None, limit: int
) -> tuple[Sequence[AuditEvent], str | None]:
    """A page of the chain in ``seq`` order, and the next cursor (the last ``seq`` seen)."""
    events = repository.list_events(session, after_seq=_after(cursor), limit=limit + 1)
    next_cursor = str(events[limit - 1].seq) if len(events) > limit else None
    return events[:limit], next_cursor


def changes(
    session: Session, actor: Actor, *, cursor: str | None, limit: int
) -> tuple[Sequence[AuditEvent], int]:
    """Changes ``actor`` may see after the cursor, oldest first, and where to poll next.

    Outside the secretariat only the public record's changes (no users, keys or
    sign-ins); the position still moves past the hidden ones, so a poll never stalls.
    """
    after = _after(cursor)
    # The head is read first and bounds the read: under READ COMMITTED a change committed
    # in between is above it, so next_cursor cannot jump over a change never delivered.
    head = repository.head_seq(session)
    events = repository.changes_after(
        session,
        after_seq=after,
        limit=limit,
        up_to_seq=head,
        entity_types=transparency.visible_entity_types(actor),
    )
    if len(events) == limit:
        return events, events[-1].seq
    # Nothing more to read now: resume after everything seen so far.
    return events, max(after, head)
