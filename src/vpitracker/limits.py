"""Request limits enforced before any route runs: header and body size, NUL characters.

Checks of the input itself (NUL in the URL, a body that is not JSON) are not
answered here for the API: they are found here and kept in the scope, and the
route raises them only once the caller has been authenticated and authorized
(``raise_deferred``, called by every credential check in ``deps``), so a caller
who may not make the request learns nothing more than 401 or 403.
"""

from __future__ import annotations

import json
from email.message import Message as MimeType
from urllib.parse import unquote_to_bytes

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpitracker.errors import PROBLEM_JSON, Invalid
from vpitracker.i18n import N_, gettext, negotiate

MAX_BODY_BYTES = 1024 * 1024
# Uploads for spreadsheet imports may be larger.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_PREFIX = "/v1/imports/"
# All request header names and values together; browsers send a few KiB at most.
MAX_HEADER_BYTES = 32 * 1024
# The API, whose routes check credentials before input (the pages answer at once).
API_PREFIX = "/v1/"
# Where a problem found before the route ran waits for the credential checks.
_DEFERRED = "vpitracker.deferred_problem"


async def send_problem(
    send: Send,
    scope: Scope,
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    **params: object,
) -> None:
    """A problem answered from middleware, before any route: in the caller's language.

    ``title`` and ``detail`` are English msgids (``detail`` a ``%(name)s`` template);
    the ``type`` stays built from the English title.
    """
    accept = dict(scope.get("headers") or []).get(b"accept-language", b"")
    lang = negotiate(accept.decode("latin-1"))
    text = gettext(lang, detail)
    body = json.dumps(
        {
            "type": "https://vpitracker.org/problems/" + (slug or title.lower().replace(" ", "-")),
            "title": gettext(lang, title),
            "status": status,
            "detail": text % params if params else text,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"content-language", lang.encode()),
                (b"vary", b"Accept-Language"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def raise_deferred(request: Request) -> None:
    """Raise the input problem found before the route ran, if any (after the credential checks)."""
    problem: Exception | None = request.scope.get(_DEFERRED)
    if problem is not None:
        raise problem


def _nul_in(raw: bytes) -> bool:
    # Decoding makes a NUL only of a NUL or of %00: without either, skip the decoding.
    if b"\x00" not in raw and b"%00" not in raw:
        return False
    return b"\x00" in unquote_to_bytes(raw)


def _nul_in_url(scope: Scope) -> bool:
    raw = scope.get("raw_path") or scope["path"].encode()
    return _nul_in(raw) or _nul_in(scope.get("query_string", b""))


def _nul_problem() -> Invalid:
    return Invalid(N_("NUL characters are not allowed in URLs"))


def _is_json(scope: Scope) -> bool:
    """The body is JSON to FastAPI: ``application/json`` or ``application/*+json``."""
    value = dict(scope.get("headers") or []).get(b"content-type")
    if not value:
        return False
    media = MimeType()
    media["content-type"] = value.decode("latin-1")
    subtype = media.get_content_subtype()
    return media.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _json_problem(body: bytes) -> Exception | None:
    """What FastAPI would answer for ``body`` before any dependency ran, or None."""
    if not body:
        return None
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        return RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        )
    except Exception:
        return HTTPException(400, "There was an error parsing the body")
    return None


async def _buffered(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (None if the client left), and a receive that replays it."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    complete = messages[-1]["type"] == "http.request"

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return (b"".join(chunks) if complete else None), replay


class RequestLimitsMiddleware:
    """413 for bodies over the limit (declared or streamed); 422 for NUL in path or query.

    On the API the 422s (NUL in the URL, a JSON body that does not parse) wait in the
    scope for ``raise_deferred``: the credential checks come first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header_bytes = sum(len(k) + len(v) for k, v in scope.get("headers") or [])
        if header_bytes > MAX_HEADER_BYTES:
            await send_problem(
                send,
                scope,
                431,
                N_("Request header fields too large"),
                N_("Request headers are limited to %(limit)s bytes in all"),
                limit=MAX_HEADER_BYTES,
            )
            return
        api = scope["path"].startswith(API_PREFIX)
        if _nul_in_url(scope):
            if api:
                scope[_DEFERRED] = _nul_problem()
            else:
                await send_problem(
                    send,
                    scope,
                    422,
                    N_("Unprocessable content"),
                    N_("NUL characters are not allowed in URLs"),
                    slug=Invalid.type_slug,
                )
                return
        limit = MAX_UPLOAD_BYTES if scope["path"].startswith(UPLOAD_PREFIX) else MAX_BODY_BYTES

        async def too_large() -> None:
            await send_problem(
                send,
                scope,
                413,
                N_("Content too large"),
                N_("Request bodies are limited to %(limit)s bytes"),
                limit=limit,
            )

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large()
            return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused, started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    if not started:
                        started = True
                        await too_large()
                    # The app sees the client go away and answers nothing more.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        receive_body: Receive = limited_receive
        if api and _is_json(scope):
            scope, receive_body = await self._check_json(scope, limited_receive)
        try:
            await self.app(scope, receive_body, tracking_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def _check_json(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """Parse a JSON body here; if it does not parse, keep the problem for later.

        FastAPI would answer it before any dependency (so before the credential
        checks); passed on as an opaque body instead, it fails validation only after.
        """
        body, replay = await _buffered(receive)
        problem = None if body is None else _json_problem(body)
        if problem is None:
            return scope, replay
        headers = [
            (k, b"application/octet-stream" if k == b"content-type" else v)
            for k, v in scope["headers"]
        ]
        return {_DEFERRED: problem, **scope, "headers": headers}, replay
