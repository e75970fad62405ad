"""Checks the HTTP and database tests share: problems, row counts, audit events."""

from __future__ import annotations

from typing import Any

from httpx import Response
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from vpitracker.models import AuditEvent


def row_counts(session: Session, *models: type[SQLModel]) -> tuple[int, ...]:
    """Rows in each table of ``models`` and, last, in audit_event."""
    counted: tuple[type[SQLModel], ...] = (*models, AuditEvent)
    return tuple(session.exec(select(func.count()).select_from(model)).one() for model in counted)


def problem(response: Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of ``response``, after checking its status, media type and shape."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    for field in ("type", "title", "detail"):
        assert isinstance(body[field], str), body
        assert body[field].strip(), body
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), response.headers
    return body


def last_event(session: Session) -> AuditEvent:
    """The newest audit event."""
    event = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert event is not None, "no audit event"
    return event


def assert_unchanged(session: Session, row: SQLModel, **expected: Any) -> None:
    """Reload ``row`` and check it still has ``expected`` values (and its first version)."""
    session.refresh(row)
    for name, value in {"version": 1, **expected}.items():
        assert getattr(row, name) == value, f"{name}: {getattr(row, name)!r} != {value!r}"
