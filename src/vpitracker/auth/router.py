"""Sign-in and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from vpitracker.auth import service
from vpitracker.auth.schemas import Me, TokenResponse
from vpitracker.deps import CurrentActor, SessionDep, SettingsDep
from vpitracker.errors import responses
from vpitracker.models import User

router = APIRouter(prefix="/v1", tags=["auth"])


@router.post("/auth/token", operation_id="auth-token", responses=responses(401, 422, 429))
def issue_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=320, pattern=r"^[^\x00]*$", description="Your email")],
    password: Annotated[str, Form(max_length=200, pattern=r"^[^\x00]*$")],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,  # noqa: ARG001 - OAuth2 form field, validated only
) -> TokenResponse:
    """OAuth2 password sign-in: email and password for a bearer token."""
    address = request.client.host if request.client else "unknown"
    issued = service.login(session, settings, email=username, password=password, address=address)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get("/me", operation_id="auth-me", responses=responses(401))
def me(actor: CurrentActor, session: SessionDep) -> Me:
    """Who you are signed in as."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    return Me(
        kind="user" if actor.kind == "user" else "api_key",
        id=actor.id,
        role=actor.role.value,
        email=actor.email,
        full_name=user.full_name if user else None,
        organization=user.organization if user else None,
        ministry_ids=sorted(actor.ministry_ids),
    )
