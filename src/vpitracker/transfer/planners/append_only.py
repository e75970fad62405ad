"""What status-update and assessment files share: the records they name, and the rule
that a recorded report is never edited (a row equal to it is unchanged, any other is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlmodel import Session

from vpitracker.kernel import credentials
from vpitracker.kernel.actor import Actor
from vpitracker.models import Commitment, Ministry, User
from vpitracker.transfer import repository
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners.common import Op
from vpitracker.vocab import Role

T = TypeVar("T")


class NamesCommitment(Protocol):
    """A parsed row that names its commitment by code."""

    @property
    def commitment_code(self) -> str: ...


@dataclass
class Context:
    """What append-only rows refer to, loaded once."""

    commitments: dict[str, Commitment]
    ministries: dict[str, Ministry]
    support: dict[int, set[int]]
    users: dict[str, User]
    user_ministries: dict[int, set[int]]
    actors: dict[int, Actor] = field(default_factory=dict)

    def actor(self, session: Session, user: User) -> Actor:
        assert user.id is not None
        if user.id not in self.actors:
            self.actors[user.id] = credentials.actor_for_user(session, user)
        return self.actors[user.id]


def context(session: Session, emails: list[str]) -> Context:
    _, support = repository.commitment_links(session)
    users = repository.users_by_email(session, emails)
    return Context(
        commitments={c.code: c for c in repository.commitments(session)},
        ministries={m.code: m for m in repository.ministries(session)},
        support=support,
        users=users,
        user_ministries=repository.ministries_of_users(
            session, [u.id for u in users.values() if u.id is not None]
        ),
    )


def named_commitments(ctx: Context, rows: Sequence[tuple[int, NamesCommitment]]) -> list[int]:
    """Ids of the commitments the rows name (whose recorded reports must be compared)."""
    found = (ctx.commitments.get(row.commitment_code) for _, row in rows)
    return sorted({c.id or 0 for c in found if c is not None})


def commitment_for(ctx: Context, number: int, code: str, errors: Errors) -> Commitment | None:
    commitment = ctx.commitments.get(code)
    if commitment is None:
        errors.add(number, "commitment_code", f"unknown commitment code {code!r}")
    elif commitment.archived_at is not None:
        errors.add(number, "commitment_code", f"commitment {code!r} is archived")
        return None
    return commitment


def user_for(
    ctx: Context,
    number: int,
    column: str,
    email: str,
    roles: Iterable[Role],
    errors: Errors,
) -> User | None:
    user = ctx.users.get(email)
    if user is None:
        errors.add(number, column, f"no user with email {email!r}")
        return None
    if Role(user.role) not in roles:
        errors.add(number, column, f"{email} is a {user.role}, who cannot post these")
        return None
    return user


def not_future(number: int, column: str, at: datetime, now: datetime, errors: Errors) -> None:
    if at > now:
        errors.add(number, column, "this time is in the future")


def urls(evidence: list[dict[str, Any]]) -> list[str]:
    return [str(e["url"]) for e in evidence]


@dataclass
class Ledger(Generic[T]):
    """The reports already recorded (by key) and this file's rows so far.

    A recorded report is never edited: a row equal to it is unchanged, any other is
    refused at the first column that differs.
    """

    recorded: dict[tuple[Any, ...], T]
    noun: str  # "status update": for "the same status update as row 2"
    key_column: str  # where a repeated row is reported
    never_edited: str
    values: Callable[[T], dict[str, Any]]  # a recorded report's values, by column
    seen: dict[tuple[Any, ...], int] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)

    def known(
        self,
        number: int,
        key: tuple[Any, ...],
        label: str,
        values: dict[str, Any],
        errors: Errors,
    ) -> bool:
        """Whether the row is settled here (a repeat, or recorded); False: it is new.

        ``values`` are the row's, by column, in the order the columns are compared.
        """
        if key in self.seen:
            errors.add(number, self.key_column, f"the same {self.noun} as row {self.seen[key]}")
            return True
        self.seen[key] = number
        old = self.recorded.get(key)
        if old is None:
            return False
        recorded = self.values(old)
        differs = [column for column, value in values.items() if recorded[column] != value]
        if differs:
            errors.add(number, differs[0], self.never_edited)
        else:
            self.ops.append(Op(number, label, "unchanged"))
        return True
