"""Request limits enforced before any route runs: header and body size, NUL characters."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpitracker.errors import PROBLEM_JSON
from vpitracker.i18n import N_, gettext, negotiate

MAX_BODY_BYTES = 1024 * 1024
# Uploads for spreadsheet imports may be larger.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
UPLOAD_PREFIX = "/v1/imports/"
# All request header names and values together; browsers send a few KiB at most.
MAX_HEADER_BYTES = 32 * 1024


async def send_problem(
    send: Send, scope: Scope, status: int, title: str, detail: str, **params: object
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
            "type": f"https://vpitracker.org/problems/{title.lower().replace(' ', '-')}",
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


class RequestLimitsMiddleware:
    """413 for bodies over the limit (declared or streamed); 422 for NUL in path or query."""

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
        raw = scope.get("raw_path") or scope["path"].encode()
        if b"\x00" in unquote_to_bytes(raw) or b"\x00" in unquote_to_bytes(
            scope.get("query_string", b"")
        ):
            await send_problem(
                send,
                scope,
                422,
                N_("Unprocessable content"),
                N_("NUL characters are not allowed in URLs"),
            )
            return
        limit = MAX_UPLOAD_BYTES if scope["path"].startswith(UPLOAD_PREFIX) else MAX_BODY_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_problem(
                send,
                scope,
                413,
                N_("Content too large"),
                N_("Request bodies are limited to %(limit)s bytes"),
                limit=limit,
            )
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
                        await send_problem(
                            send,
                            scope,
                            413,
                            N_("Content too large"),
                            N_("Request bodies are limited to %(limit)s bytes"),
                            limit=limit,
                        )
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

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception:
            if not refused:
                raise
