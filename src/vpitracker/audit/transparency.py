"""Signed checkpoints, proofs and public events: the log outsiders can verify."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session

from vpitracker.audit import merkle, note, repository
from vpitracker.config import Environment, Settings
from vpitracker.errors import Invalid, NotFound, Unavailable
from vpitracker.kernel.actor import Actor
from vpitracker.models import AuditEvent
from vpitracker.vocab import PUBLIC_ENTITY_TYPES, EntityType, Role

# Development only: a generated key is kept here (the working directory) across restarts.
DEV_KEY_FILE = Path("vpitracker-log.key")


@lru_cache(maxsize=4)
def _parse_signer(text: str) -> note.Signer:
    return note.parse_signer(text)


def _dev_signer(origin: str) -> note.Signer:
    if DEV_KEY_FILE.exists():
        return _parse_signer(DEV_KEY_FILE.read_text().strip())
    signer = note.generate(origin)
    try:
        fd = os.open(DEV_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made one first: use that one
        return _parse_signer(DEV_KEY_FILE.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(signer.encode() + "\n")
    return signer


def signer(settings: Settings) -> note.Signer:
    if settings.log_signing_key:
        try:
            return _parse_signer(settings.log_signing_key)
        except note.NoteError as exc:
            raise Unavailable("VPI_LOG_SIGNING_KEY is not usable: %(reason)s", reason=exc) from exc
    if settings.env is Environment.development:
        return _dev_signer(settings.log_origin)
    raise Unavailable(
        "The log has no signing key: set VPI_LOG_SIGNING_KEY "
        "(make one with `vpitracker log keygen --name ORIGIN`)"
    )


def leaf_nodes(
    session: Session,
    index: int,
    event_hash_hex: str,
    prev_hash_hex: str | None = None,
    stored: Mapping[tuple[int, int], bytes] | None = None,
) -> list[tuple[int, int, bytes]]:
    """Leaf ``index`` and every complete subtree it closes, as (level, idx, hash) rows.

    ``prev_hash_hex`` (the previous event's hash, which the chain append already read)
    gives the level-0 sibling without a query: it is that event's leaf. ``stored``:
    nodes already read (the append's ``lock_head``); only what is still missing is read.
    """
    # The left siblings on the way up are the complete subtrees ending at this leaf.
    levels = 0
    while (index >> levels) & 1:
        levels += 1
    siblings = [(level, (index >> level) - 1) for level in range(levels)]
    known = dict(stored or {})
    if levels and prev_hash_hex:
        known[(0, index - 1)] = merkle.leaf_hash(prev_hash_hex)
    wanted = set(siblings) - known.keys()
    nodes = {**known, **(repository.merkle_nodes(session, wanted) if wanted else {})}
    current = merkle.leaf_hash(event_hash_hex)
    rows = [(0, index, current)]
    for level, sibling in siblings:
        current = merkle.node_hash(nodes[(level, sibling)], current)
        rows.append((level + 1, index >> (level + 1), current))
    return rows


def _resolve(session: Session, plans: list[merkle.Plan], size: int | None = None) -> list[bytes]:
    """The hash of each plan, from one read of the stored nodes.

    With ``size`` (a proof's tree size, not yet compared with the log), a missing node
    is first blamed on a size beyond the log (404): the log's size is read only then,
    as every stored node covering the last leaf of a tree proves that tree exists.
    """
    wanted = {key for keys in plans for key in keys}
    nodes = repository.merkle_nodes(session, wanted)
    missing = wanted - nodes.keys()
    if size is not None and (missing or not wanted):
        head = repository.head_seq(session)
        if size > head:
            raise NotFound("tree size %(size)s: the log has %(head)s events", size=size, head=head)
    if missing:
        raise Unavailable(
            "The audit Merkle tree is incomplete: %(count)s node(s) missing, "
            "e.g. (level, index) %(first)s",
            count=len(missing),
            first=min(missing),
        )
    return [merkle.fold(keys, nodes) for keys in plans]


def root(session: Session, size: int) -> bytes:
    return _resolve(session, [merkle.plan(0, size)])[0]


# Signed checkpoints already made, by (public key, origin, tree size, head event hash).
# The head's hash chains every earlier event, so an equal key is an equal tree: a log
# restored from a backup and grown again to the same size has another head and is
# signed afresh. Ed25519 signatures are deterministic, so a cached note is the very
# text a fresh signing gives.
_SIGNED: dict[tuple[bytes, str, int, str], str] = {}
_SIGNED_MAX = 64


def checkpoint(session: Session, settings: Settings) -> str:
    """The current tree head as a C2SP checkpoint in a signed note."""
    origin = settings.log_origin
    if not origin or any(c.isspace() for c in origin):
        raise Unavailable("VPI_LOG_ORIGIN must be non-empty and without spaces")
    key = signer(settings)
    head = repository.head(session)
    size, head_hash = head if head is not None else (0, "")
    cache_key = (key.public, origin, size, head_hash)
    signed = _SIGNED.get(cache_key)
    if signed is None:
        signed = note.sign(note.Checkpoint(origin, size, root(session, size)).text(), key)
        if len(_SIGNED) >= _SIGNED_MAX:
            _SIGNED.clear()
        _SIGNED[cache_key] = signed
    return signed


def inclusion(session: Session, seq: int, tree_size: int) -> list[bytes]:
    """The audit path of event ``seq`` in the tree of the first ``tree_size`` events."""
    if seq > tree_size:
        raise Invalid(
            "event %(seq)s is not in a tree of %(size)s",
            loc=["query", "seq"],
            seq=seq,
            size=tree_size,
        )
    return _resolve(session, merkle.inclusion_plan(seq - 1, tree_size), tree_size)


def consistency(session: Session, first: int, second: int) -> list[bytes]:
    """The proof that the tree of ``second`` events extends the tree of ``first``."""
    if first > second:
        raise Invalid("first must not exceed second", loc=["query", "first"])
    return _resolve(session, merkle.consistency_plan(first, second), second)


def visible_entity_types(actor: Actor) -> frozenset[EntityType] | None:
    """The entity types whose events ``actor`` may read: None for all (the secretariat)."""
    if actor.kind == "user" and actor.role is Role.secretariat:
        return None
    return PUBLIC_ENTITY_TYPES


def public_event(session: Session, actor: Actor, seq: int) -> AuditEvent:
    """One event; outside the secretariat only events about the public record."""
    event = repository.event(session, seq)
    visible = visible_entity_types(actor)
    if event is None or (visible is not None and event.entity_type not in visible):
        raise NotFound("No public audit event %(seq)s", seq=seq)
    return event
