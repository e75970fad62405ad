"""The page machinery: who is asking, in which language, rendering and headers."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session
from starlette.types import Scope

from vpitracker import i18n
from vpitracker.config import Settings
from vpitracker.deps import AuthSessionDep, SettingsDep
from vpitracker.errors import AppError, Unauthorized
from vpitracker.i18n import N_
from vpitracker.kernel import credentials
from vpitracker.kernel.actor import Actor
from vpitracker.routing import ApiRoute
from vpitracker.vocab import Role
from vpitracker.web import charts
from vpitracker.web import session as cookies
from vpitracker.web.session import PageSession

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    # No script at all, no inline style; forms post only to this server.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili"}


def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Stacked bars are drawn in Python (one per ministry on the scorecard).
    env.globals["bar_svg"] = charts.bar_svg
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


# One environment per language: installing translations per request would race
# between requests served at the same time in other languages.
ENVIRONMENTS = {lang: _environment(lang) for lang in i18n.SUPPORTED}


class PageRoute(ApiRoute):
    """Marks page routes so errors raised in them render as HTML, not problem+json."""


class LoginRequired(Exception):
    pass


class PageError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass
class Page:
    """The request as the pages see it: the cookie session, the user and the language."""

    request: Request
    settings: Settings
    state: PageSession
    # Plain values, not the ORM row: an error page renders after the rollback expired it.
    user_name: str | None
    actor: Actor | None
    lang: str
    cookie_changed: bool

    def gettext(self, message: str) -> str:
        return i18n.gettext(self.lang, message)

    @property
    def csrf_token(self) -> str:
        return cookies.csrf_token(self.settings, self.state)

    def require_user(self) -> Actor:
        if self.actor is None:
            raise LoginRequired
        return self.actor

    def require_reader(self) -> None:
        """Signed in, or anonymous where ``VPI_PUBLIC_READ`` opens progress and reports."""
        if self.actor is None and not self.settings.public_read:
            raise LoginRequired

    def require_role(self, roles: tuple[Role, ...]) -> Actor:
        actor = self.require_user()
        if actor.role not in roles:
            raise PageError(403, N_("You may not do this"), N_("Your role does not allow it."))
        return actor


def _signed_in(session: Session, state: PageSession) -> credentials.Account | None:
    """The cookie's user while its sign-in is valid, by the bearer tokens' rule: a
    deactivated account, or one whose credential version moved on since sign-in
    (password or role changed, "sign out everywhere"), loses its sessions at once."""
    if not state.user_id:
        return None
    try:
        return credentials.account_for_user_id(session, state.user_id, state.credential_version)
    except Unauthorized:
        return None


def get_page(request: Request, session: AuthSessionDep, settings: SettingsDep) -> Page:
    state = cookies.decode(settings, request.cookies.get(cookies.COOKIE_NAME))
    changed = state is None
    if state is None:
        state = PageSession.anonymous()
    account = _signed_in(session, state)
    if state.user_id and account is None:
        # Expired, deactivated or deleted: the session is over.
        state, changed = PageSession.anonymous(state.lang), True
    asked = i18n.normalize(request.query_params.get("lang"))
    if asked and asked != state.lang:
        state, changed = state.with_lang(asked), True
    # The account's language comes after an explicit choice.
    lang = (
        asked
        or state.lang
        or i18n.normalize(account.language if account else None)
        or i18n.negotiate(request.headers.get("accept-language"))
    )
    actor = account.actor if account else None
    name = account.full_name if account else None
    page = Page(request, settings, state, name, actor, lang, changed)
    request.state.page = page
    return page


PageDep = Annotated[Page, Depends(get_page)]


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _with_cookie(page: Page | None, response: Response) -> Response:
    if page is not None and page.cookie_changed:
        response.set_cookie(
            value=cookies.encode(page.settings, page.state),
            max_age=cookies.MAX_AGE_SECONDS,
            **cookies.cookie_options(page.settings),
        )
    return secure(response)


def url_with(request: Request, **changes: Any) -> str:
    """The current page's URL with some query parameters changed (None drops one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def render(page: Page, template: str, *, status: int = 200, **context: Any) -> Response:
    env = ENVIRONMENTS[page.lang if page.lang in ENVIRONMENTS else i18n.DEFAULT]
    html = env.get_template(template).render(
        page=page,
        user_name=page.user_name,
        actor=page.actor,
        lang=page.lang,
        csrf_token=page.csrf_token,
        languages=LANGUAGE_NAMES,
        url_with=lambda **kw: url_with(page.request, **kw),
        path=page.request.url.path,
        **context,
    )
    return _with_cookie(page, HTMLResponse(html, status_code=status))


def redirect(page: Page, url: str) -> Response:
    """303 See Other: the browser follows with a GET (POST-redirect-GET)."""
    return _with_cookie(page, RedirectResponse(url, status_code=303))


class _Static(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        return secure(await super().get_response(path, scope))


def _is_page(request: Request) -> bool:
    return isinstance(request.scope.get("route"), PageRoute)


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    page: Page | None = getattr(request.state, "page", None)
    if page is None:
        return secure(HTMLResponse(f"<!doctype html><title>{status}</title>", status_code=status))
    return render(page, "error.html", status=status, title=title, detail=detail)


async def _delegate(handler: Any, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    response: Response = await result if inspect.isawaitable(result) else result
    return response


def install(app: FastAPI) -> None:
    """Serve the pages' static file and render errors raised in page routes as HTML."""
    app.mount("/static", _Static(directory=HERE / "static"), name="static")
    api_error = app.exception_handlers[AppError]
    api_validation = app.exception_handlers[RequestValidationError]

    async def on_app_error(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await _delegate(api_error, request, exc)
        assert isinstance(exc, AppError)
        return _error_page(request, exc.status, exc.title, str(exc))

    async def on_validation(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await _delegate(api_validation, request, exc)
        return _error_page(request, 404, N_("Not found"), N_("There is no such page."))

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return _error_page(request, exc.status, exc.title, exc.detail)

    async def on_login_required(request: Request, _exc: Exception) -> Response:
        page: Page | None = getattr(request.state, "page", None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        return _with_cookie(page, response)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(LoginRequired, on_login_required)
