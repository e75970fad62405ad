"""The state the chain records for each edited record, compared with the row as it stands.

Verification replays, in ``seq`` order, every event about a ministry, provision,
recommendation or commitment: the ``*.created`` snapshot, then each ``*.updated`` and
``*.archived`` change (``{field: {"old", "new"}}``). At the end each row must equal the
state its newest event leaves, its links included (a recommendation's provisions, a
commitment's recommendations and supporting ministries). A row no event covers was
written behind the API's back. Columns that change without an event of their own are
left out: ``version`` and ``updated_at`` (a links-only edit bumps both). The shipped
provision catalogue is loaded by the first migration, before the chain begins: a
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
    AuditEvent,
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Provision,
    Recommendation,
    RecommendationProvision,
    table_of,
)
from vpitracker.vocab import EntityType

# The records whose whole state their events carry, and the column that names each row.
REPLAYED: dict[str, tuple[type[SQLModel], str]] = {
    EntityType.ministry.value: (Ministry, "id"),
    EntityType.provision.value: (Provision, "key"),
    EntityType.recommendation.value: (Recommendation, "id"),
    EntityType.commitment.value: (Commitment, "id"),
}
NOT_RECORDED = frozenset({"version", "updated_at"})
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
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Replay:
    """The state each replayed record's events leave, built one event at a time."""

    entities: dict[str, dict[str, _Entity]] = field(
        default_factory=lambda: {entity_type: {} for entity_type in REPLAYED}
    )

    def apply(self, event: AuditEvent) -> None:
        known = self.entities.get(event.entity_type)
        if known is None:
            return
        entity = known.get(event.entity_id)
        if entity is None:
            entity = known[event.entity_id] = _Entity(first_seq=event.seq)
        entity.last_seq = event.seq
        data = json.loads(event.data)
        if not isinstance(data, dict):
            data = {}
        if event.action.endswith(".created"):
            entity.created = True
            entity.state = data
            return
        for name, change in data.items():
            # A change the app wrote is {"old", "new"}; anything else cannot hold.
            recorded = change.get("new", _MISSING) if isinstance(change, dict) else _MISSING
            entity.state[name] = recorded

    def compare(self, session: Session, head_seq: int) -> Problem | None:
        """The earliest record whose row differs from what its events record."""
        return earliest(
            *(self._compare_table(session, entity_type, head_seq) for entity_type in self.entities)
        )

    def _compare_table(self, session: Session, entity_type: str, head_seq: int) -> Problem | None:
        model, key_column = REPLAYED[entity_type]
        entities = self.entities[entity_type]
        uncovered_seq = _uncovered_seq(entities, head_seq, numeric=key_column == "id")
        links = _links(session, entity_type)
        seen: set[str] = set()
        found: Problem | None = None
        for row in _rows(session, model, key_column):
            key = str(row[key_column])
            seen.add(key)
            current = {**row, **{name: by_row.get(key, []) for name, by_row in links.items()}}
            found = earliest(
                found,
                _check_row(entity_type, key, current, entities.get(key), uncovered_seq, head_seq),
            )
        for key, entity in entities.items():
            if key not in seen:
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
    fields = [
        name
        for name in sorted(current.keys() | entity.state.keys())
        if name not in NOT_RECORDED and current.get(name, _MISSING) != entity.state.get(name)
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
    }
    out: dict[str, dict[str, list[Any]]] = {}
    for name, (owner, target) in tables.get(entity_type, {}).items():
        by_row: dict[str, list[Any]] = defaultdict(list)
        for owner_id, target_id in session.exec(select(owner, target)):
            by_row[str(owner_id)].append(target_id)
        out[name] = {key: sorted(values) for key, values in by_row.items()}
    return out


def _rows(session: Session, model: type[SQLModel], key_column: str) -> Iterator[dict[str, Any]]:
    """Each row's recorded columns as plain JSON values, a thousand rows at a time.

    Core rows, not ORM objects: nothing lands in the session's identity map.
    """
    table = table_of(model)
    columns = [c for c in table.columns if c.name not in NOT_RECORDED]
    stmt = select(*columns).order_by(table.c[key_column])
    for row in session.execute(stmt.execution_options(yield_per=1000)):
        yield {c.name: plain(value) for c, value in zip(columns, row, strict=True)}


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
