"""Queries for sign-in: users by email, recent failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from vpitracker.models import LoginFailure, User


def user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.lower())).first()


def failures_since(
    session: Session, *, account: str | None = None, address: str | None = None, since: datetime
) -> tuple[int, datetime | None]:
    """How many failures, and the oldest one, since ``since``."""
    stmt = select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.at >= since)
    if account is not None:
        stmt = stmt.where(LoginFailure.account == account)
    if address is not None:
        stmt = stmt.where(LoginFailure.address == address)
    count, oldest = session.exec(stmt).one()
    return int(count), oldest


def purge_failures(session: Session, *, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(col(LoginFailure.at) < before))
