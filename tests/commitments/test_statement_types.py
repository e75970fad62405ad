"""The types the commitment statements declare are the values the database returns."""

from __future__ import annotations

from datetime import UTC, datetime
from types import NoneType, UnionType
from typing import get_args

import pytest
from sqlmodel import Session

from tests.factories import make_commitment, make_ministry, make_update, make_user
from vpitracker.commitments import repository
from vpitracker.commitments.repository import CommitmentValues
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.kernel.state import STATE_FIELDS, StateValues, state_columns
from vpitracker.models import Commitment, table_of
from vpitracker.vocab import Role


def kinds(values: object) -> list[tuple[type, bool]]:
    """Each member of a tuple type as (its type, whether it may be None)."""
    described = []
    for member in get_args(values):
        parts = get_args(member) if isinstance(member, UnionType) else (member,)
        (kind,) = [part for part in parts if part is not NoneType]
        described.append((kind, NoneType in parts))
    return described


def test_commitment_values_follow_the_table() -> None:
    table = [(c.type.python_type, c.nullable) for c in table_of(Commitment).c]
    assert kinds(CommitmentValues) == table


def test_state_values_follow_the_state_columns() -> None:
    columns = state_columns(Clock.at(None, 90)).fields
    assert [kind for kind, _ in kinds(StateValues)] == [
        columns[name].type.python_type for name in STATE_FIELDS
    ]


@pytest.mark.parametrize("with_state", [True, False])
def test_rows_hold_the_declared_types(session: Session, with_state: bool) -> None:
    ministry = make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[ministry])
    reported = make_commitment(session, lead=ministry)
    make_commitment(session, lead=ministry)
    make_update(session, reported, by=officer, at=datetime(2024, 5, 1, tzinfo=UTC))
    clock, filters = Clock.at(None, 90), CommitmentFilters(ministry_id=ministry.id)
    if with_state:
        rows = list(session.execute(repository.select_with_state(clock, filters)))
        declared = kinds(CommitmentValues) + kinds(StateValues)
    else:
        rows = list(session.execute(repository.select_commitments(clock, filters)))
        declared = kinds(CommitmentValues)
    assert len(rows) == 2
    for row in rows:
        assert len(row) == len(declared)
        for value, (kind, nullable) in zip(row, declared, strict=True):
            assert isinstance(value, kind) or (nullable and value is None), (value, kind)
