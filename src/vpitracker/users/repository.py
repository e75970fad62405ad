"""User queries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlmodel import Session, col, select

from vpitracker.models import User, UserMinistry
from vpitracker.pagination import PageRequest, paginate
from vpitracker.records import by_key, matches

SORTS = {"id": col(User.id), "email": col(User.email)}


def get(session: Session, user_id: int, *, for_update: bool = False) -> User | None:
    return by_key(session, User, user_id, for_update=for_update)


def by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.lower())).first()


def ministry_ids_by_user(session: Session, user_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(user_ids)
    out: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (
        select(UserMinistry.user_id, UserMinistry.ministry_id)
        .where(col(UserMinistry.user_id).in_(ids))
        .order_by(col(UserMinistry.ministry_id))
    )
    for user_id, ministry_id in session.exec(stmt).all():
        out[user_id].append(ministry_id)
    return out


def set_ministries(session: Session, user_id: int, ministry_ids: Iterable[int]) -> None:
    session.execute(delete(UserMinistry).where(col(UserMinistry.user_id) == user_id))
    for ministry_id in sorted(set(ministry_ids)):
        session.add(UserMinistry(user_id=user_id, ministry_id=ministry_id))
    session.flush()


def list_users(
    session: Session,
    *,
    role: str | None,
    is_active: bool | None,
    q: str | None,
    page: PageRequest,
) -> tuple[list[User], str | None]:
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active == is_active)
    if q:
        # Emails are stored lower-cased, so matching them lower-cased finds the same rows.
        stmt = stmt.where(matches(q, col(User.full_name), col(User.email)))
    return paginate(session, stmt, page=page, sort_columns=SORTS, id_column=col(User.id))
