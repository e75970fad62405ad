"""Sign-in and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from vpitracker.auth import service
from vpitracker.auth.schemas import Me, MeUpdate, TokenResponse
from vpitracker.deps import (
    CurrentActor,
    IfMatch,
    Person,
    ReadFirstSessionDep,
    SessionDep,
    SettingsDep,
)
from vpitracker.errors import responses
from vpitracker.routing import ApiRoute
from vpitracker.versioning import etag

router = APIRouter(prefix="/v1", tags=["auth"], route_class=ApiRoute)


@router.post("/auth/token", operation_id="auth-token", responses=responses(401, 422, 429))
def issue_token(
    request: Request,
    session: ReadFirstSessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=320, pattern=r"^[^\x00]*$", description="Your email")],
    password: Annotated[str, Form(max_length=200, pattern=r"^[^\x00]*$")],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,  # noqa: ARG001 - OAuth2 form field, validated only
) -> TokenResponse:
    """OAuth2 password sign-in: email and password for a bearer token."""
    address = request.client.host if request.client else "unknown"
    issued = service.login(session, settings, email=username, password=password, address=address)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


def _with_etag(response: Response, me: Me) -> Me:
    if me.version is not None:
        response.headers["ETag"] = etag(me.version)
    return me


@router.get("/me", operation_id="auth-me", responses=responses(401))
def me(actor: CurrentActor, session: SessionDep, response: Response) -> Me:
    """Who you are signed in as."""
    return _with_etag(response, service.describe(session, actor))


@router.patch("/me", operation_id="auth-me-update", responses=responses(401, 403, 412, 422, 428))
def update_me(
    body: MeUpdate,
    actor: Person,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> Me:
    """Change your own language and email settings (``notify``); needs ``If-Match``."""
    return _with_etag(response, service.update_me(session, actor, body, if_match))


@router.post(
    "/auth/sign-out-everywhere",
    operation_id="auth-sign-out-everywhere",
    status_code=204,
    responses=responses(401, 403),
)
def sign_out_everywhere(actor: Person, session: SessionDep) -> Response:
    """End every session of your account: all tokens issued so far stop working."""
    service.sign_out_everywhere(session, actor)
    return Response(status_code=204)
