"""One error hierarchy, rendered as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"


class AppError(Exception):
    status: int = 400
    title: str = "Bad request"
    type_slug: str = "bad-request"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, persist: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.errors: list[dict[str, Any]] | None = None
        # True when what the request wrote so far must be committed despite the error.
        self.persist = persist


class Unauthorized(AppError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"

    def __init__(
        self, detail: str = "Missing or invalid credentials", *, persist: bool = False
    ) -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": 'Bearer realm="vpitracker"'}, persist=persist
        )


class Forbidden(AppError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, type_slug = 409, "Conflict", "conflict"


class PreconditionFailed(AppError):
    status, title, type_slug = 412, "Precondition failed", "precondition-failed"


class PreconditionRequired(AppError):
    status, title, type_slug = 428, "Precondition required", "precondition-required"


class Invalid(AppError):
    status, title, type_slug = 422, "Unprocessable content", "validation-error"

    def __init__(self, detail: str, *, loc: list[str | int] | None = None) -> None:
        super().__init__(detail)
        if loc is not None:
            self.errors = [{"loc": loc, "msg": detail}]


class Unavailable(AppError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"


class Throttled(AppError):
    status, title, type_slug = 429, "Too many requests", "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status, title, type_slug = 503, "Service unavailable", "service-unavailable"

    def __init__(self, detail: str, *, retry_after: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class NotSaved(AppError):
    """The database refused the commit: nothing of the request was written."""

    status, title, type_slug = 500, "Internal server error", "not-saved"


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


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://vpitracker.org/problems/{slug or _slug(title)}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def _loc(loc: Any) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def app_error_response(exc: AppError) -> JSONResponse:
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        slug=exc.type_slug,
        errors=exc.errors,
        headers=exc.headers,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return app_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return problem_response(
            422,
            "Unprocessable content",
            f"{where}: {first['msg']}" if where else str(first["msg"]),
            slug="validation-error",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(exc.status_code, title, detail, headers=headers or None)


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


def declare_body_errors(app: FastAPI) -> None:
    """Declare on every operation that reads a body the two answers any body can get.

    400 when the bytes cannot be parsed at all (not UTF-8 text), 413 when the body is
    over the size limit (RequestLimitsMiddleware).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = generate()
        if fresh:
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
        return document

    app.openapi = openapi  # type: ignore[method-assign]


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
