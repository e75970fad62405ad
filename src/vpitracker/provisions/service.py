"""Provision catalogue rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row
from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.errors import Conflict, Invalid
from vpitracker.kernel import figures
from vpitracker.kernel.actor import Actor
from vpitracker.models import Provision
from vpitracker.pagination import PageRequest
from vpitracker.provisions import repository
from vpitracker.provisions.schemas import ProvisionCreate, ProvisionUpdate
from vpitracker.records import apply_changes, flush_unique, or_404, patch_changes
from vpitracker.vocab import EntityType, Instrument


def get(session: Session, key: str, *, for_update: bool = False) -> Provision:
    provision = repository.get(session, key, for_update=for_update)
    return or_404(provision, "No provision with key %(key)r", key=key)


def list_provisions(
    session: Session, *, instrument: Instrument | None, cluster: int | None, page: PageRequest
) -> tuple[list[Row[*tuple[Any, ...]]], str | None]:
    return repository.list_provisions(
        session, instrument=instrument.value if instrument else None, cluster=cluster, page=page
    )


def require_existing(session: Session, keys: Iterable[str], *, loc: list[str | int]) -> None:
    wanted = set(keys)
    missing = sorted(wanted - repository.existing_keys(session, wanted))
    if missing:
        raise Invalid("Unknown provision key(s): %(keys)s", loc=loc, keys=missing)


def create(session: Session, actor: Actor, data: ProvisionCreate) -> Provision:
    """Add a provision to the catalogue."""
    if repository.get(session, data.key) is not None:
        raise Conflict("A provision with key %(key)r already exists", key=data.key)
    provision = Provision(**data.model_dump())
    session.add(provision)
    flush_unique(session, "A provision with key %(key)r already exists", key=data.key)
    audit.record(
        session,
        actor,
        "provision.created",
        EntityType.provision,
        provision.key,
        audit.snapshot(provision),
    )
    return provision


def update(
    session: Session, actor: Actor, key: str, data: ProvisionUpdate, if_match: str | None
) -> Provision:
    """Correct a provision (e.g. its cluster); needs ``If-Match``."""
    provision = get(session, key, for_update=True)
    changes = patch_changes(provision, if_match, data, not_null=("instrument", "article", "title"))
    changed = apply_changes(provision, changes)
    if changed:
        session.flush()
        if "cluster" in changed or "instrument" in changed:
            figures.refresh(session, figures.of_provision(key))
        audit.record(session, actor, "provision.updated", EntityType.provision, key, changed)
    return provision
