"""Request ids, structured JSON logs and Prometheus metrics per route template."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpitracker.i18n import N_
from vpitracker.limits import send_problem

logger = logging.getLogger("vpitracker.access")

_SECRET_PARAMS = frozenset({"api_key", "password", "token", "access_token"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@lru_cache(maxsize=1024)
def redact_query(query: str) -> str:
    """The query string with secrets replaced, so they never reach a log.

    Kept for the queries seen last: a list's clients ask the same few again and again.
    """
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs])


class JsonFormatter(logging.Formatter):
    # The timestamp has whole seconds: formatted once per second, not once per line
    # (the second and its text replaced together, as threads log too).
    _last: tuple[int, str] = (-1, "")

    def _timestamp(self, record: logging.LogRecord) -> str:
        second, stamp = self._last
        if int(record.created) != second:
            stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z")
            self._last = (int(record.created), stamp)
        return stamp

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self._timestamp(record),
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
        # Each label set's counter and histogram, found once (``labels()`` takes a lock
        # and checks the names on every call).
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        counter = self._requests.get((method, route, status))
        if counter is None:
            counter = self._requests.setdefault(
                (method, route, status), self.requests.labels(method, route, str(status))
            )
        counter.inc()
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency.setdefault((method, route), self.latency.labels(method, route))
        latency.observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/commitments/{commitment_id}``), not the raw path."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


_CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key", b"cookie"})


def _read_request(scope: Scope) -> tuple[str, bool]:
    """The ``X-Request-ID`` the client sent (its last, or "") and whether the request
    carries credentials, from one pass over the headers."""
    incoming = b""
    credentials = b"api_key=" in scope.get("query_string", b"")
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            incoming = value
        elif name in _CREDENTIAL_HEADERS:
            credentials = True
    return incoming.decode("latin-1"), credentials


def _security_headers(
    scope: Scope, headers: list[tuple[bytes, bytes]], *, credentials: bool
) -> None:
    """Headers every answer carries; ``no-store`` unless the route chose its own caching."""
    names = {k.lower() for k, _ in headers}
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    if credentials and b"cache-control" not in names:
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
        incoming, credentials = _read_request(scope)
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
                _security_headers(scope, headers, credentials=credentials)
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
            self.metrics.observe(method, route, status, elapsed)
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
