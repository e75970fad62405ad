"""Sign-in, token checks and the failed-login throttle."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from vpitracker.audit import service as audit
from vpitracker.auth import repository
from vpitracker.auth.passwords import verify_password
from vpitracker.auth.schemas import Language, Me, MeUpdate, NotifyPrefs
from vpitracker.config import Settings
from vpitracker.errors import Forbidden, Throttled, Unauthorized
from vpitracker.i18n import N_
from vpitracker.jsonutil import canonical
from vpitracker.kernel import tokens
from vpitracker.kernel.actor import Actor
from vpitracker.models import LoginFailure, User, utcnow
from vpitracker.records import apply_changes
from vpitracker.versioning import check_if_match
from vpitracker.vocab import EntityType


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def bump_credential_version(user: User) -> None:
    """Void every token and session issued to this account so far."""
    user.credential_version += 1


def sign_out_everywhere(session: Session, actor: Actor) -> None:
    """End every session of the caller's account, this one included."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    if user is None:
        raise Forbidden("Only a signed-in person can sign out; revoke an API key instead")
    bump_credential_version(user)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.signed_out_everywhere",
        EntityType.user,
        actor.id,
        {"credential_version": user.credential_version},
    )


def account_key(settings: Settings, email: str) -> str:
    """A keyed hash of the name typed at sign-in: what the throttle and the chain keep.

    The text itself is never stored: people type passwords into the username field.
    """
    message = b"vpitracker-sign-in:" + email.encode("utf-8")
    return hmac.new(settings.secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _check_throttle(session: Session, settings: Settings, account: str, address: str) -> float:
    """429 when this address failed too often; else the account-wide delay in seconds.

    Failures lock out per (account, address) and per address only, so an attacker
    elsewhere cannot lock a known user out; failures of the account from everywhere
    only slow each attempt down, progressively.
    """
    window = timedelta(minutes=settings.login_window_minutes)
    now = utcnow()
    since = now - window
    for count, oldest, limit, what in (
        (
            *repository.failures_since(session, account=account, address=address, since=since),
            settings.login_max_failures_per_account,
            N_("Too many failed sign-ins for this account from your address; try again later"),
        ),
        (
            *repository.failures_since(session, address=address, since=since),
            settings.login_max_failures_per_address,
            N_("Too many failed sign-ins for your address; try again later"),
        ),
    ):
        if count >= limit and oldest is not None:
            retry = int((oldest + window - now).total_seconds()) + 1
            raise Throttled(what, retry_after=retry)
    everywhere, _ = repository.failures_since(session, account=account, since=since)
    over = everywhere - settings.login_account_slow_after + 1
    if over <= 0:
        return 0.0
    return min(
        settings.login_account_max_delay_seconds, settings.login_account_delay_step_seconds * over
    )


def login(
    session: Session, settings: Settings, *, email: str, password: str, address: str
) -> IssuedToken:
    """Check the password (throttled per account and per address) and issue a token."""
    user = check_password(session, settings, email=email, password=password, address=address)
    assert user.id is not None
    token, lifetime = tokens.issue(
        settings, user_id=user.id, role=user.role, credential_version=user.credential_version
    )
    return IssuedToken(access_token=token, expires_in=lifetime)


def check_password(
    session: Session, settings: Settings, *, email: str, password: str, address: str
) -> User:
    """The active user with this email and password; throttled and audited like the token."""
    email = email.strip().lower()
    account = account_key(settings, email)
    delay = _check_throttle(session, settings, account, address)
    if delay:
        time.sleep(delay)
    user = repository.user_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        session.add(LoginFailure(account=account, address=address[:64]))
        user_id = user.id if user is not None and user.id is not None else None
        who: dict[str, object] = {"account_id": user_id} if user_id else {"account": account}
        audit.record(
            session,
            None,
            "user.login_failed",
            EntityType.user,
            user_id or 0,
            {**who, "address": address[:64]},
        )
        # persist: the failure and its audit event must survive the 401.
        raise Unauthorized("Incorrect email or password", persist=True)
    return user


def describe(session: Session, actor: Actor) -> Me:
    """The caller as ``GET /v1/me`` shows them."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    return _me(actor, user)


def _me(actor: Actor, user: User | None) -> Me:
    return Me(
        kind="user" if actor.kind == "user" else "api_key",
        id=actor.id,
        role=actor.role.value,
        email=actor.email,
        full_name=user.full_name if user else None,
        organization=user.organization if user else None,
        ministry_ids=sorted(actor.ministry_ids),
        language=Language(user.language) if user else None,
        notify=NotifyPrefs.model_validate_json(user.notify) if user else None,
        version=user.version if user else None,
    )


def update_me(session: Session, actor: Actor, data: MeUpdate, if_match: str | None) -> Me:
    """A user edits their own language and notification settings (``If-Match``)."""
    if actor.kind != "user":
        raise Forbidden("API keys are read-only; sign in as a user to change your settings")
    user = session.get(User, actor.id, with_for_update=True)
    assert user is not None
    check_if_match(if_match, user.version)
    changes: dict[str, str] = {}
    if data.language is not None:
        changes["language"] = data.language.value
    if data.notify is not None:
        merged = NotifyPrefs.model_validate_json(user.notify).model_copy(
            update=data.notify.model_dump(exclude_none=True)
        )
        changes["notify"] = canonical(merged.model_dump(mode="json"))
    changed = apply_changes(user, changes)
    if changed:
        session.flush()
        audit.record(session, actor, "user.updated", EntityType.user, actor.id, changed)
    return _me(actor, user)
