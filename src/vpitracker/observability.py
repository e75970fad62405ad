"""Request ids, structured JSON logs and Prometheus metrics per route template."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpitracker.i18n import N_
from vpitracker.limits import send_problem

logger = logging.getLogger("vpitracker.access")

_SECRET_PARAMS = frozenset({"api_key", "password", "token", "access_token"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def redact_query(query: str) -> str:
    """The query string with secrets replaced, so they never reach a log."""
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("vpitracker")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vpitracker_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vpitracker_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
        )


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/commitments/{commitment_id}``), not the raw path."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key", b"cookie")


def _carries_credentials(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return any(h in headers for h in _CREDENTIAL_HEADERS) or b"api_key=" in scope.get(
        "query_string", b""
    )


def _security_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
    """Headers every answer carries; ``no-store`` unless the route chose its own caching."""
    names = {k.lower() for k, _ in headers}
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    if _carries_credentials(scope) and b"cache-control" not in names:
        headers.append((b"cache-control", b"no-store"))
    if scope.get("scheme") == "https" and b"strict-transport-security" not in names:
        headers.append((b"strict-transport-security", b"max-age=31536000"))


class RequestContextMiddleware:
    """Echo or mint ``X-Request-ID``, log one JSON line per request, count it.

    Outermost of the app's middleware: it also answers an unhandled error itself
    (a 500 problem that carries the request id, like every other answer).
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                responded = True
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                _security_headers(scope, headers)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if responded:
                raise
            logger.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            await send_problem(
                send_with_id,
                scope,
                500,
                N_("Internal server error"),
                N_("Something went wrong on our side; quote request id %(request_id)s"),
                request_id=request_id,
            )
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
