"""One error hierarchy, rendered as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from vpitracker.i18n import DEFAULT, N_, gettext, negotiate

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"


class AppError(Exception):
    """A problem answer. ``detail`` is an English template with ``%(name)s`` placeholders.

    The template is what the catalogs translate; ``params`` fill it at render time,
    in the caller's language, so raise sites never build finished sentences.
    """

    status: int = 400
    title: str = N_("Bad request")
    type_slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        persist: bool = False,
        **params: Any,
    ) -> None:
        self.template = detail
        self.params = params
        self.detail = detail % params if params else detail
        super().__init__(self.detail)
        self.headers = headers or {}
        self.errors: list[dict[str, Any]] | None = None
        # True when what the request wrote so far must be committed despite the error.
        self.persist = persist


class Unauthorized(AppError):
    status, title, type_slug = 401, N_("Unauthorized"), "unauthorized"

    def __init__(
        self,
        detail: str = N_("Missing or invalid credentials"),
        *,
        persist: bool = False,
        **params: Any,
    ) -> None:
        super().__init__(
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="vpitracker"'},
            persist=persist,
            **params,
        )


class Forbidden(AppError):
    status, title, type_slug = 403, N_("Forbidden"), "forbidden"


class NotFound(AppError):
    status, title, type_slug = 404, N_("Not found"), "not-found"


class Conflict(AppError):
    status, title, type_slug = 409, N_("Conflict"), "conflict"


class PreconditionFailed(AppError):
    status, title, type_slug = 412, N_("Precondition failed"), "precondition-failed"


class PreconditionRequired(AppError):
    status, title, type_slug = 428, N_("Precondition required"), "precondition-required"


class Invalid(AppError):
    status, title, type_slug = 422, N_("Unprocessable content"), "validation-error"

    def __init__(self, detail: str, *, loc: list[str | int] | None = None, **params: Any) -> None:
        super().__init__(detail, **params)
        if loc is not None:
            self.errors = [{"loc": loc, "msg": self.detail}]


class Unavailable(AppError):
    status, title, type_slug = 503, N_("Service unavailable"), "unavailable"


class Throttled(AppError):
    status, title, type_slug = 429, N_("Too many requests"), "throttled"

    def __init__(self, detail: str, *, retry_after: int, **params: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **params)


class ServiceUnavailable(AppError):
    status, title, type_slug = 503, N_("Service unavailable"), "service-unavailable"

    def __init__(self, detail: str, *, retry_after: int = 2, **params: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}, **params)


class ReplicaBusy(ServiceUnavailable):
    """A read replica cancelled a read that conflicted with the changes it was replaying."""

    type_slug = "replica-busy"


class NotSaved(AppError):
    """The database refused the commit: nothing of the request was written."""

    status, title, type_slug = 500, N_("Internal server error"), "not-saved"


class ValidationItem(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ValidationItem] | None = None


# Titles and details Starlette and FastAPI raise themselves, marked so the catalogs carry them.
FRAMEWORK_TEXTS = (
    N_("Bad Request"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Content Too Large"),
    N_("Unsupported Media Type"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
    N_("There was an error parsing the body"),
)


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    lang: str | None = None,
    params: Mapping[str, object] | None = None,
) -> JSONResponse:
    """The problem document from an English ``title`` and ``detail`` template.

    With ``lang`` both are translated (the ``type`` stays built from the English
    title) and the answer says so in ``Content-Language``; ``params`` fill the
    detail's ``%(name)s`` placeholders after translation.
    """
    if lang is not None:
        detail = gettext(lang, detail)
        headers = {**(headers or {}), "Content-Language": lang, "Vary": "Accept-Language"}
    body: dict[str, Any] = {
        "type": f"https://vpitracker.org/problems/{slug or _slug(title)}",
        "title": title if lang is None else gettext(lang, title),
        "status": status,
        "detail": detail % params if params else detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def language_of(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def _loc(loc: Iterable[object]) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def app_error_response(exc: AppError, lang: str = DEFAULT) -> JSONResponse:
    """The problem for ``exc``, its title and detail in ``lang``."""
    errors = exc.errors
    if errors is not None and lang != DEFAULT:
        # The error's own message in errors[] is its detail: it follows the language.
        mine = gettext(lang, exc.template)
        mine = mine % exc.params if exc.params else mine
        errors = [{**e, "msg": mine} if e.get("msg") == exc.detail else e for e in errors]
    return problem_response(
        exc.status,
        exc.title,
        exc.template,
        slug=exc.type_slug,
        errors=errors,
        headers=exc.headers,
        lang=lang,
        params=exc.params,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return app_error_response(exc, language_of(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        # TRANSLATORS: where is a field path such as body.title; msg stays in English.
        template = N_("%(where)s: %(msg)s") if where else "%(msg)s"
        return problem_response(
            422,
            "Unprocessable content",
            template,
            slug="validation-error",
            errors=errors,
            lang=language_of(request),
            params={"where": where, "msg": first["msg"]},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(
            exc.status_code,
            title,
            detail,
            headers=headers or None,
            lang=language_of(request),
        )


def _allowed_methods(request: Request) -> str:
    """Every method of the resource (RFC 9110), not only those of the route that was tried.

    Each method of a path is a route of its own; the OpenAPI document has them all.
    """
    route = request.scope.get("route")
    methods = {m.upper() for m in getattr(route, "methods", None) or ()}
    path_item = request.app.openapi().get("paths", {}).get(getattr(route, "path", None), {})
    methods |= {m.upper() for m in path_item}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def amend_openapi(app: FastAPI, amend: Callable[[dict[str, Any]], None]) -> None:
    """Run ``amend`` on the generated OpenAPI document once, when it is first built."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()
        if fresh:
            amend(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def declare_body_errors(app: FastAPI) -> None:
    """Declare on every operation that reads a body the two answers any body can get.

    400 when the bytes cannot be parsed at all (not UTF-8 text), 413 when the body is
    over the size limit (RequestLimitsMiddleware).
    """

    def amend(document: dict[str, Any]) -> None:
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                if "requestBody" not in operation:
                    continue
                for status in (400, 413):
                    operation["responses"].setdefault(
                        str(status),
                        {
                            "description": HTTPStatus(status).phrase,
                            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
                        },
                    )

    amend_openapi(app, amend)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI error declarations for an operation."""
    return {
        s: {
            "model": Problem,
            "description": HTTPStatus(s).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for s in statuses
    }
