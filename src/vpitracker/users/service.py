"""User management: roles, officers' ministries, passwords, deactivation."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.auth import service as auth_service
from vpitracker.auth.passwords import hash_password, weakness
from vpitracker.errors import Conflict, Invalid
from vpitracker.kernel.actor import Actor
from vpitracker.ministries import service as ministries_service
from vpitracker.models import User, utcnow
from vpitracker.pagination import PageRequest
from vpitracker.records import apply_changes, flush_unique, or_404, patch_changes
from vpitracker.users import repository
from vpitracker.users.schemas import UserCreate, UserRead, UserUpdate
from vpitracker.vocab import EntityType, Role

_SECRET_FIELDS = frozenset({"password_hash"})


def get(session: Session, user_id: int, *, for_update: bool = False) -> User:
    user = repository.get(session, user_id, for_update=for_update)
    return or_404(user, "No user with id %(id)s", id=user_id)


def to_read(user: User, ministry_ids: list[int]) -> UserRead:
    return UserRead.model_validate({**user.model_dump(), "ministry_ids": ministry_ids})


def read(session: Session, user: User) -> UserRead:
    assert user.id is not None
    return to_read(user, repository.ministry_ids_by_user(session, [user.id])[user.id])


def list_users(
    session: Session,
    *,
    role: Role | None,
    is_active: bool | None,
    q: str | None,
    page: PageRequest,
) -> tuple[list[UserRead], str | None]:
    users, next_cursor = repository.list_users(
        session, role=role.value if role else None, is_active=is_active, q=q, page=page
    )
    ministries = repository.ministry_ids_by_user(session, [u.id for u in users if u.id])
    return [to_read(u, ministries[u.id or 0]) for u in users], next_cursor


def _check_ministries(session: Session, role: Role, ministry_ids: list[int]) -> None:
    if role is Role.government_officer:
        if not ministry_ids:
            raise Invalid(
                "A government officer needs at least one ministry", loc=["body", "ministry_ids"]
            )
        ministries_service.require_active(session, ministry_ids, loc=["body", "ministry_ids"])
    elif ministry_ids:
        raise Invalid("Only government officers belong to ministries", loc=["body", "ministry_ids"])


def _check_password(password: str, *, email: str, full_name: str) -> None:
    problem = weakness(password, email=email, full_name=full_name)
    if problem is not None:
        raise Invalid(problem, loc=["body", "password"])


def create(session: Session, actor: Actor | None, data: UserCreate) -> User:
    """Create an account (argon2id password hash; the password is never stored)."""
    email = data.email.lower()
    _check_password(data.password, email=email, full_name=data.full_name)
    if repository.by_email(session, email) is not None:
        raise Conflict("A user with email %(email)r already exists", email=email)
    _check_ministries(session, data.role, data.ministry_ids)
    user = User(
        email=email,
        full_name=data.full_name,
        role=data.role.value,
        organization=data.organization,
        password_hash=hash_password(data.password),
        is_active=data.is_active,
    )
    session.add(user)
    flush_unique(session, "A user with email %(email)r already exists", email=email)
    assert user.id is not None
    repository.set_ministries(session, user.id, data.ministry_ids)
    audit.record(
        session,
        actor,
        "user.created",
        EntityType.user,
        user.id,
        {
            **audit.snapshot(user, exclude=_SECRET_FIELDS),
            "ministry_ids": sorted(set(data.ministry_ids)),
        },
    )
    return user


def update(
    session: Session, actor: Actor, user_id: int, data: UserUpdate, if_match: str | None
) -> User:
    """Edit an account; nobody changes their own role or deactivates themselves."""
    user = get(session, user_id, for_update=True)
    changes = patch_changes(
        user,
        if_match,
        data,
        not_null=("email", "full_name", "role", "is_active", "password", "ministry_ids"),
    )
    if user_id == actor.id and actor.kind == "user":
        if "role" in changes and changes["role"] != user.role:
            raise Invalid("You cannot change your own role", loc=["body", "role"])
        if changes.get("is_active") is False:
            raise Invalid("You cannot deactivate yourself", loc=["body", "is_active"])
    if "email" in changes:
        changes["email"] = changes["email"].lower()
        other = repository.by_email(session, changes["email"])
        if other is not None and other.id != user_id:
            raise Conflict("A user with email %(email)r already exists", email=changes["email"])
    current_ministries = repository.ministry_ids_by_user(session, [user_id])[user_id]
    new_ministries = sorted(set(changes.pop("ministry_ids", current_ministries)))
    role = Role(changes.get("role", user.role))
    _check_ministries(session, role, new_ministries)
    password = changes.pop("password", None)
    if password is not None:
        _check_password(
            password,
            email=changes.get("email", user.email),
            full_name=changes.get("full_name", user.full_name),
        )
    changed = apply_changes(user, changes)
    extra: dict[str, dict[str, Any]] = {}
    if password is not None or "role" in changed or "is_active" in changed:
        before = user.credential_version
        auth_service.bump_credential_version(user)
        # Recorded like any column: verification compares the row with its events.
        extra["credential_version"] = {"old": before, "new": user.credential_version}
    if password is not None:
        user.password_hash = hash_password(password)
        extra["password"] = {"old": "***", "new": "***"}
    if new_ministries != current_ministries:
        repository.set_ministries(session, user_id, new_ministries)
        extra["ministry_ids"] = {"old": current_ministries, "new": new_ministries}
    if extra and not changed:
        apply_changes(user, {"updated_at": utcnow()})
    changed.update(extra)
    if changed:
        flush_unique(session, "A user with that email already exists")
        audit.record(session, actor, "user.updated", EntityType.user, user_id, changed)
    return user
