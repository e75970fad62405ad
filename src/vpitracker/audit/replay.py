"""The state the chain records for each edited record, compared with the row as it stands.

Verification replays, in ``seq`` order, every event about a ministry, provision,
recommendation, commitment, user, API key or webhook subscription: the ``*.created``
snapshot, then each change (``{field: {"old", "new"}}``). At the end each row must equal
the state its newest event leaves, its links included (a recommendation's provisions, a
commitment's recommendations and supporting ministries, an officer's ministries). A row
no event covers was written behind the API's back. Columns that change without an event
of their own are left out: ``version`` and ``updated_at`` everywhere (a links-only edit
bumps both), secrets and their hashes (never in an event), and the bookkeeping of use —
an API key's ``last_used_at``, a subscription's ``failure_count`` and worker lease. The
shipped provision catalogue is loaded by the first migration, before the chain begins: a
catalogue provision with no event must still read as the catalogue does.
"""

from __future__ import annotations

import csv
import io
import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlmodel import Session, SQLModel, select

from vpitracker.jsonutil import plain
from vpitracker.models import (
    ApiKey,
    AuditEvent,
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    User,
    UserMinistry,
    WebhookSubscription,
    table_of,
)
from vpitracker.vocab import EntityType

NOT_RECORDED = frozenset({"version", "updated_at"})


@dataclass(frozen=True)
class Replayed:
    """How one kind of record's events are replayed and its rows read."""

    model: type[SQLModel]
    # The column that names each row.
    key: str
    # Columns no event carries (besides NOT_RECORDED): secrets, and what use changes.
    unrecorded: frozenset[str] = frozenset()
    # Fields an event names that no column holds: a secret's "***" change.
    placeholders: frozenset[str] = frozenset()
    # Columns stored as JSON text that the events record as lists.
    json_lists: tuple[str, ...] = ()
    # Events about the record that record none of its state (a failed sign-in).
    stateless: frozenset[str] = frozenset()
    # Events whose data are the new values themselves, not {"old", "new"}.
    values: frozenset[str] = frozenset()

    @property
    def ignored(self) -> frozenset[str]:
        """Every column the comparison leaves out."""
        return NOT_RECORDED | self.unrecorded


# The records whose whole (non-secret) state their events carry.
REPLAYED: dict[str, Replayed] = {
    EntityType.ministry.value: Replayed(Ministry, "id"),
    EntityType.provision.value: Replayed(Provision, "key"),
    EntityType.recommendation.value: Replayed(Recommendation, "id"),
    EntityType.commitment.value: Replayed(Commitment, "id"),
    EntityType.user.value: Replayed(
        User,
        "id",
        unrecorded=frozenset({"password_hash"}),
        placeholders=frozenset({"password"}),
        stateless=frozenset({"user.login_failed"}),
        values=frozenset({"user.signed_out_everywhere"}),
    ),
    EntityType.api_key.value: Replayed(
        ApiKey, "id", unrecorded=frozenset({"key_hash", "last_used_at"})
    ),
    EntityType.webhook_subscription.value: Replayed(
        WebhookSubscription,
        "id",
        unrecorded=frozenset({"secret_encrypted", "lease_until", "failure_count"}),
        placeholders=frozenset({"secret"}),
        json_lists=("events", "ministry_ids"),
        # About one delivery, not the subscription.
        stateless=frozenset(
            {"webhook_subscription.pinged", "webhook_subscription.delivery_retried"}
        ),
    ),
}
# What the first migration loads for a provision (its times are the migration's).
_CATALOGUE_FIELDS = ("instrument", "article", "title", "cluster")
_MISSING = object()


@dataclass(frozen=True, order=True)
class Problem:
    """Where verification first fails, and what it found there."""

    seq: int
    detail: str = field(compare=False)
    entity_type: str | None = field(default=None, compare=False)
    entity_id: str | None = field(default=None, compare=False)


def earliest(*found: Problem | None) -> Problem | None:
    return min((p for p in found if p is not None), default=None)


@dataclass
class _Entity:
    first_seq: int
    last_seq: int = 0
    created: bool = False
    # A ``*.deleted`` event was the newest: no row may hold this key.
    deleted: bool = False
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Replay:
    """The state each replayed record's events leave, built one event at a time."""

    entities: dict[str, dict[str, _Entity]] = field(
        default_factory=lambda: {entity_type: {} for entity_type in REPLAYED}
    )

    def apply(self, event: AuditEvent) -> None:
        known = self.entities.get(event.entity_type)
        spec = REPLAYED.get(event.entity_type)
        if known is None or spec is None or event.action in spec.stateless:
            return
        entity = known.get(event.entity_id)
        if entity is None:
            entity = known[event.entity_id] = _Entity(first_seq=event.seq)
        entity.last_seq = event.seq
        data = json.loads(event.data)
        if not isinstance(data, dict):
            data = {}
        data = {k: v for k, v in data.items() if k not in spec.placeholders}
        if event.action.endswith(".created"):
            entity.created, entity.deleted = True, False
            entity.state = data
            return
        if event.action.endswith(".deleted"):
            entity.deleted = True
            return
        for name, change in data.items():
            if event.action in spec.values:
                entity.state[name] = change
                continue
            # A change the app wrote is {"old", "new"}; anything else cannot hold.
            recorded = change.get("new", _MISSING) if isinstance(change, dict) else _MISSING
            entity.state[name] = recorded

    def compare(self, session: Session, head_seq: int) -> Problem | None:
        """The earliest record whose row differs from what its events record."""
        return earliest(
            *(self._compare_table(session, entity_type, head_seq) for entity_type in self.entities)
        )

    def _compare_table(self, session: Session, entity_type: str, head_seq: int) -> Problem | None:
        spec = REPLAYED[entity_type]
        entities = self.entities[entity_type]
        uncovered_seq = _uncovered_seq(entities, head_seq, numeric=spec.key == "id")
        links = _links(session, entity_type)
        seen: set[str] = set()
        found: Problem | None = None
        for row in _rows(session, spec):
            key = str(row[spec.key])
            seen.add(key)
            current = {**row, **{name: by_row.get(key, []) for name, by_row in links.items()}}
            found = earliest(
                found,
                _check_row(entity_type, key, current, entities.get(key), uncovered_seq, head_seq),
            )
        for key, entity in entities.items():
            if key not in seen and not entity.deleted:
                detail = f"{entity_type} {key} was deleted (event {entity.last_seq} records it)"
                found = earliest(found, Problem(entity.last_seq, detail, entity_type, key))
        return found


def _check_row(
    entity_type: str,
    key: str,
    current: dict[str, Any],
    entity: _Entity | None,
    uncovered_seq: Callable[[str], int],
    head_seq: int,
) -> Problem | None:
    shipped = _catalogue().get(key) if entity_type == EntityType.provision.value else None
    if entity is None or not entity.created:
        if shipped is None:
            if entity is None:
                seq = uncovered_seq(key)
                detail = f"{entity_type} {key} exists, but no audit event covers it"
            else:
                seq = entity.first_seq
                detail = f"{entity_type} {key}: no audit event records its creation"
            return Problem(seq, detail, entity_type, key)
        # A provision of the shipped catalogue: the migration's row, then its events.
        state = {**shipped, **(entity.state if entity else {})}
        fields = [f for f in _CATALOGUE_FIELDS if current.get(f) != state.get(f, _MISSING)]
        if not fields:
            return None
        seq = entity.last_seq if entity else head_seq + 1
        source = f"event {entity.last_seq}" if entity else "the shipped catalogue"
        detail = f"{entity_type} {key} differs from {source} in {', '.join(fields)}"
        return Problem(seq, detail, entity_type, key)
    if entity.deleted:
        detail = f"{entity_type} {key} exists, but event {entity.last_seq} deleted it"
        return Problem(entity.last_seq, detail, entity_type, key)
    unrecorded = REPLAYED[entity_type].ignored
    fields = [
        name
        for name in sorted(current.keys() | entity.state.keys())
        if name not in unrecorded and current.get(name, _MISSING) != entity.state.get(name)
    ]
    if not fields:
        return None
    detail = (
        f"{entity_type} {key} differs from event {entity.last_seq}, its newest, "
        f"in {', '.join(fields)}"
    )
    return Problem(entity.last_seq, detail, entity_type, key)


def _uncovered_seq(
    entities: dict[str, _Entity], head_seq: int, *, numeric: bool
) -> Callable[[str], int]:
    """For a row no event covers: the first event about a later row of its kind, else head+1.

    Ids are handed out in order, so a row with no event was written before the first
    event that covers a higher id. Text keys (provisions) have no such order.
    """
    if not numeric:
        return lambda _key: head_seq + 1
    ordered = sorted((int(key), entity.first_seq) for key, entity in entities.items())
    ids = [entity_id for entity_id, _ in ordered]
    # suffix[i]: the lowest first seq of the rows ordered[i:].
    suffix = [head_seq + 1] * (len(ordered) + 1)
    for i in range(len(ordered) - 1, -1, -1):
        suffix[i] = min(ordered[i][1], suffix[i + 1])

    def seq(key: str) -> int:
        return suffix[bisect_right(ids, int(key))]

    return seq


def _links(session: Session, entity_type: str) -> dict[str, dict[str, list[Any]]]:
    """The link lists a record's events carry, as the link tables hold them now."""
    tables: dict[str, dict[str, tuple[Any, Any]]] = {
        EntityType.recommendation.value: {
            "provision_keys": (
                RecommendationProvision.recommendation_id,
                RecommendationProvision.provision_key,
            )
        },
        EntityType.commitment.value: {
            "recommendation_ids": (
                CommitmentRecommendation.commitment_id,
                CommitmentRecommendation.recommendation_id,
            ),
            "supporting_ministry_ids": (
                CommitmentSupport.commitment_id,
                CommitmentSupport.ministry_id,
            ),
        },
        EntityType.user.value: {"ministry_ids": (UserMinistry.user_id, UserMinistry.ministry_id)},
    }
    out: dict[str, dict[str, list[Any]]] = {}
    for name, (owner, target) in tables.get(entity_type, {}).items():
        by_row: dict[str, list[Any]] = defaultdict(list)
        for owner_id, target_id in session.exec(select(owner, target)):
            by_row[str(owner_id)].append(target_id)
        out[name] = {key: sorted(values) for key, values in by_row.items()}
    return out


def _rows(session: Session, spec: Replayed) -> Iterator[dict[str, Any]]:
    """Each row's recorded columns as plain JSON values, a thousand rows at a time.

    Core rows, not ORM objects: nothing lands in the session's identity map.
    """
    table = table_of(spec.model)
    columns = [c for c in table.columns if c.name not in spec.ignored]
    stmt = select(*columns).order_by(table.c[spec.key])
    for row in session.execute(stmt.execution_options(yield_per=1000)):
        values = {c.name: plain(value) for c, value in zip(columns, row, strict=True)}
        for name in spec.json_lists:
            values[name] = _json_list(values[name])
        yield values


def _json_list(text: Any) -> Any:
    """A list column as its events record it; text that is no JSON list stays as it is."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return value if isinstance(value, list) else text


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, Any]]:
    """The provision catalogue the first migration loads (vpitracker/data/provisions.csv)."""
    text = resources.files("vpitracker.data").joinpath("provisions.csv").read_text("utf-8")
    return {
        r["key"]: {
            "instrument": r["instrument"],
            "article": r["article"],
            "title": r["title"],
            "cluster": int(r["cluster"]) if r["cluster"] else None,
        }
        for r in csv.DictReader(io.StringIO(text))
    }
