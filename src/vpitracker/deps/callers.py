"""Who is calling: the credential schemes, the one-credential rule, and the gates.

A gate is the dependency that decides who may call a route (``Reader``,
``Secretariat``, ...). Each names the schemes it takes for the OpenAPI document and
ends with ``raise_deferred``, so input problems come after 401 and 403.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated, NamedTuple

from fastapi import Depends, Request, Security
from fastapi.security import (
    APIKeyHeader,
    APIKeyQuery,
    HTTPBasic,
    HTTPBasicCredentials,
    OAuth2PasswordBearer,
)
from sqlmodel import Session
from starlette.requests import HTTPConnection

from vpitracker.config import Settings
from vpitracker.db import end_read
from vpitracker.deps.session import (
    AuthSessionDep,
    ReadFirstSessionDep,
    SettingsDep,
    defer_check,
    take_check,
)
from vpitracker.errors import Forbidden, Unauthorized
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.credentials import actor_from_api_key, actor_from_token
from vpitracker.limits import raise_deferred
from vpitracker.routing import for_the_document
from vpitracker.vocab import ASSESSOR_ROLES, REPORTER_ROLES, Role

# Security schemes for the OpenAPI document only (they never read the request:
# _credentials() reads every credential, with one rule). Each dependency that
# decides who may call a route (a gate, below) names the schemes it takes with
# Security(...), so every operation's ``security`` is derived from its own
# dependencies and says exactly what works there. Marked ``for_the_document``, they
# are not run per request (routing.ApiRoute); a gate's parameter for them defaults
# to None, which is what they would give.


class _Bearer(OAuth2PasswordBearer):
    async def __call__(self, _request: HTTPConnection) -> str | None:
        return None


class _KeyHeader(APIKeyHeader):
    async def __call__(self, _request: HTTPConnection) -> str | None:
        return None


class _KeyQuery(APIKeyQuery):
    async def __call__(self, _request: HTTPConnection) -> str | None:
        return None


class _Basic(HTTPBasic):
    async def __call__(self, _request: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        return None


_bearer = for_the_document(
    _Bearer(
        tokenUrl="/v1/auth/token",
        scheme_name="Bearer",
        description="A signed-in person's token from POST /v1/auth/token",
    )
)
_key_header = for_the_document(
    _KeyHeader(name="X-API-Key", scheme_name="ApiKeyHeader", description="A read-only API key")
)
_key_query = for_the_document(
    _KeyQuery(
        name="api_key",
        scheme_name="ApiKeyQuery",
        description="A read-only API key in the URL, for tools that cannot send headers",
    )
)
_basic = for_the_document(
    _Basic(
        scheme_name="Basic",
        realm="vpitracker",
        description="A read-only API key as the password (any user name), for tools that "
        "send credentials only after a challenge",
    )
)
_BASIC_CHALLENGE = ', Basic realm="vpitracker"'
# The schemes of a gate that takes API keys in headers, besides the person's token.
BearerOnly = Annotated[None, Security(_bearer)]
KeyHeader = Annotated[None, Security(_key_header)]
KeyQuery = Annotated[None, Security(_key_query)]
BasicKey = Annotated[None, Security(_basic)]


@for_the_document
async def _header_schemes(_t: BearerOnly = None, _k: KeyHeader = None, _b: BasicKey = None) -> None:
    """The schemes of a gate that reads: the token, and an API key in a header."""


HeaderSchemes = Annotated[None, Depends(_header_schemes)]


class _Credential(NamedTuple):
    kind: str  # "bearer" (a signed token) or "key" (an API key)
    secret: str
    in_query: bool = False


# How a 401 names each place a credential can be sent.
_AUTHORIZATION_NAMES = {"bearer": "Authorization: Bearer", "basic": "Authorization: Basic"}


def _presented(request: Request) -> list[str]:
    """Every credential the request carries, valid or not, named by where it is."""
    names = [
        _AUTHORIZATION_NAMES.get(value.partition(" ")[0].lower(), "Authorization")
        for value in request.headers.getlist("authorization")
    ]
    names += ["X-API-Key"] * len(request.headers.getlist("x-api-key"))
    names += ["?api_key="] * len(request.query_params.getlist("api_key"))
    return names


def _credentials(request: Request) -> _Credential | None:
    """The one credential of the request, or None; 401 when it carries more than one.

    One rule for every combination of ``Authorization`` (Bearer or Basic),
    ``X-API-Key`` and ``?api_key=``, checked before any of them is: which one a
    server would pick is never a guess (README, Authentication).
    """
    presented = _presented(request)
    if len(presented) > 1:
        raise Unauthorized(
            "Send one credential, not several: this request has %(credentials)s",
            credentials=", ".join(presented),
        )
    query_key = request.query_params.get("api_key")
    if query_key is not None:
        return _Credential("key", query_key, in_query=True)
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer" and value:
        return _Credential("key" if value.startswith("vpi_") else "bearer", value)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise Unauthorized("Malformed Basic credentials") from exc
        _, _, secret = decoded.partition(":")
        return _Credential("key", secret)
    if authorization:
        raise Unauthorized("Unsupported authorization scheme")
    header_key = request.headers.get("x-api-key")
    if header_key:
        return _Credential("key", header_key)
    return None


def _actor_for(credential: _Credential, session: Session, settings: Settings) -> Actor:
    if credential.kind == "bearer":
        return actor_from_token(session, settings, credential.secret)
    return actor_from_api_key(session, credential.secret)


def _header_credential(request: Request) -> _Credential | None:
    """The request's one credential, which must be in its headers; None without one."""
    credential = _credentials(request)
    if credential is not None and credential.in_query:
        raise Unauthorized("api_key in the query string works only on GET progress and reports")
    return credential


def _authenticate(request: Request, session: Session, settings: Settings) -> Actor | None:
    """The caller named by the credential in the headers, or None without one."""
    credential = _header_credential(request)
    return None if credential is None else _actor_for(credential, session, settings)


def _offering_basic(exc: Unauthorized) -> Unauthorized:
    """The 401 of a gate that takes Basic also offers it, for tools that wait for a challenge."""
    exc.headers["WWW-Authenticate"] += _BASIC_CHALLENGE
    return exc


_SIGN_IN = "Sign in: send a bearer token"


def _signed_in(request: Request, session: AuthSessionDep, settings: SettingsDep) -> Actor:
    actor = _authenticate(request, session, settings)
    if actor is None:
        raise Unauthorized(_SIGN_IN)
    return actor


SignedIn = Annotated[Actor, Depends(_signed_in)]


# The gates: the dependencies that decide who may call a route. Each declares the
# schemes it takes (Security) and ends with raise_deferred(): input problems found
# before the route ran (limits.py) come after 401 and 403.


def _read_gate(request: Request, find: Callable[[], Actor]) -> Actor:
    """The caller ``find`` names; its 401 also offers Basic, as every reading gate takes it."""
    try:
        actor = find()
    except Unauthorized as exc:
        raise _offering_basic(exc) from None
    raise_deferred(request)
    return actor


def _or_anonymous(actor: Actor | None, settings: Settings) -> Actor:
    """Readers of progress, reports and the log: anyone, if public (``VPI_PUBLIC_READ``)."""
    if actor is not None:
        return actor
    if settings.public_read:
        return Actor(kind="anonymous", id=0, role=Role.viewer)
    raise Unauthorized("Sign in: send a bearer token or an API key")


def get_current_actor(
    request: Request,
    session: AuthSessionDep,
    settings: SettingsDep,
    _schemes: HeaderSchemes = None,
) -> Actor:
    """Any caller with credentials in headers: a person or an API key."""
    return _read_gate(request, lambda: _signed_in(request, session, settings))


async def get_person(request: Request, actor: SignedIn, _t: BearerOnly = None) -> Actor:
    """A signed-in person: an API key is read-only and gets 403."""
    if actor.kind != "user":
        raise Forbidden("API keys are read-only; sign in as a person to do this")
    raise_deferred(request)
    return actor


def get_report_actor(
    request: Request,
    session: AuthSessionDep,
    settings: SettingsDep,
    _schemes: HeaderSchemes = None,
    _q: KeyQuery = None,
) -> Actor:
    """Readers of progress and reports: also ``?api_key=`` and, if enabled, anonymous."""

    def find() -> Actor:
        credential = _credentials(request)
        found = None if credential is None else _actor_for(credential, session, settings)
        return _or_anonymous(found, settings)

    return _read_gate(request, find)


def get_log_reader(
    request: Request,
    session: AuthSessionDep,
    settings: SettingsDep,
    _schemes: HeaderSchemes = None,
) -> Actor:
    """Readers of the verifiable log: any credentials in headers, or anyone if public."""
    return _read_gate(
        request, lambda: _or_anonymous(_authenticate(request, session, settings), settings)
    )


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
Person = Annotated[Actor, Depends(get_person)]
LogReader = Annotated[Actor, Depends(get_log_reader)]


def _with_role(request: Request, actor: Actor, allowed: frozenset[Role]) -> Actor:
    if actor.role not in allowed or (actor.kind != "user"):
        raise Forbidden(
            "This needs the role %(roles)s; you are %(role)s",
            # Role names are machine words, the same in every language: list
            # them without an English conjunction.
            roles=", ".join(sorted(allowed)),
            role=actor.role,
        )
    raise_deferred(request)
    return actor


def require_role(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    allowed = frozenset(roles)

    async def check(request: Request, actor: SignedIn, _t: BearerOnly = None) -> Actor:
        return _with_role(request, actor, allowed)

    return check


def get_actor_before_work(
    request: Request, session: ReadFirstSessionDep, settings: SettingsDep, _t: BearerOnly = None
) -> Actor:
    """The caller, checked in a read transaction that has ended when the route starts.

    For routes that work long before they write (an import reads its file first):
    they hold no transaction, lock or connection meanwhile, and open the request's
    write transaction (``SessionDep``) only when they write.
    """
    actor = _signed_in(request, session, settings)
    end_read(session)
    return actor


async def _secretariat_before_work(
    request: Request, actor: Annotated[Actor, Depends(get_actor_before_work)]
) -> Actor:
    return _with_role(request, actor, frozenset({Role.secretariat}))


Reader = CurrentActor
ReportReader = Annotated[Actor, Depends(get_report_actor)]
Secretariat = Annotated[Actor, Depends(require_role(Role.secretariat))]
# A secretariat user, checked before the route's long work (see get_actor_before_work).
SecretariatBeforeWork = Annotated[Actor, Depends(_secretariat_before_work)]
Assessor = Annotated[Actor, Depends(require_role(*ASSESSOR_ROLES))]
Reporter = Annotated[Actor, Depends(require_role(*REPORTER_ROLES))]


class PendingCaller:
    """A page's caller, checked in the page's own thread hop.

    The page's gate reads the credential without I/O; the database check and the
    gate's verdict (``decide``) run first in the hop that reads the page
    (``resources.page_read`` calls ``check``), so a page takes one hop, not two.
    Until it has run, any failure of the request runs it first (``deps.session``):
    401 and 403 before 422, as every gate answers.
    """

    __slots__ = ("_decide", "_request", "_session")

    def __init__(self, request: Request, session: Session, decide: Callable[[], Actor]) -> None:
        self._request = request
        self._session = session
        self._decide = decide
        defer_check(request, self.check)

    @property
    def session(self) -> Session:
        """Where the caller is checked (the primary's, when the page reads a replica)."""
        return self._session

    def check(self) -> Actor:
        """The caller, once found valid in the database and let in by the gate."""
        take_check(self._request)
        return self._decide()


def _found_later(request: Request, session: Session, *, basic: bool) -> Callable[[], Actor]:
    """The database check of the request's one credential, which must be in its headers.

    401 at once without one or with several (offering Basic when ``basic``).
    """
    try:
        credential = _header_credential(request)
        if credential is None:
            raise Unauthorized(_SIGN_IN)
    except Unauthorized as exc:
        raise (_offering_basic(exc) if basic else exc) from None
    settings: Settings = request.app.state.settings
    return lambda: _actor_for(credential, session, settings)


async def get_page_reader(
    request: Request, session: AuthSessionDep, _schemes: HeaderSchemes = None
) -> PendingCaller:
    """A list page's ``Reader``: any caller with credentials in headers."""
    find = _found_later(request, session, basic=True)
    return PendingCaller(request, session, lambda: _read_gate(request, find))


_SECRETARIAT = frozenset({Role.secretariat})


async def _page_secretariat(
    request: Request, session: AuthSessionDep, _t: BearerOnly = None
) -> PendingCaller:
    """A list page's ``Secretariat``: a signed-in secretariat user."""
    find = _found_later(request, session, basic=False)
    return PendingCaller(request, session, lambda: _with_role(request, find(), _SECRETARIAT))


async def _figures_reader(
    request: Request, session: AuthSessionDep, _schemes: HeaderSchemes = None, _q: KeyQuery = None
) -> PendingCaller:
    """Progress figures' ``ReportReader``: also ``?api_key=`` and, if enabled, anonymous."""
    try:
        credential = _credentials(request)
    except Unauthorized as exc:
        raise _offering_basic(exc) from None
    settings: Settings = request.app.state.settings

    def find() -> Actor:
        found = None if credential is None else _actor_for(credential, session, settings)
        return _or_anonymous(found, settings)

    return PendingCaller(request, session, lambda: _read_gate(request, find))


# The gates of reads that check their caller in their own hop (resources.checked_read).
PageReader = Annotated[PendingCaller, Depends(get_page_reader)]
PageSecretariat = Annotated[PendingCaller, Depends(_page_secretariat)]
FiguresReader = Annotated[PendingCaller, Depends(_figures_reader)]
