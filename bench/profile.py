"""cProfile of one request, in-process, on a database an earlier ``bench run`` loaded.

Sync endpoints normally run on a worker thread, out of a profiler's sight; here
``anyio.to_thread.run_sync`` runs them inline for the duration, so the whole request
(routing, auth, query building, SQL, ORM, validation, serialization) lands in one
profile. Profiling slows Python code several-fold: read the shares, not the times.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import logging
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import event

from bench.databases import BenchDatabase
from bench.pages import CSRF
from bench.server import SECRETARIAT_EMAIL, SECRETARIAT_PASSWORD, new_secret_key
from vpitracker.config import Environment, Settings
from vpitracker.db import make_engine
from vpitracker.main import create_app


@contextmanager
def _inline_threads() -> Iterator[None]:
    original = anyio.to_thread.run_sync

    async def inline(func: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        anyio.to_thread.run_sync = original


async def _sign_in(client: httpx.AsyncClient, *, page: bool) -> None:
    """A bearer token for the API; for a web page, the sign-in form's session cookie."""
    account = {"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD}
    if not page:
        r = await client.post("/v1/auth/token", data=account)
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return
    token = CSRF.search((await client.get("/login")).text)
    if token is None:
        raise RuntimeError("no sign-in form at /login")
    r = await client.post("/login", data={**account, "csrf_token": token.group(1)})
    if r.status_code != 303:
        raise RuntimeError(f"page sign-in failed: {r.status_code}")


def profile(db: BenchDatabase, url: str, *, n: int, top: int, sort: str, match: str) -> str:
    engine = make_engine(db.url)
    settings = Settings(env=Environment.test, secret_key=new_secret_key(), database_url=db.url)
    app = create_app(settings, engine)
    logging.getLogger("vpitracker").setLevel(logging.WARNING)

    async def run() -> str:
        transport = httpx.ASGITransport(app=app)
        # https: the page cookie is Secure outside development mode.
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
            await _sign_in(client, page=not url.startswith("/v1/"))
            for _ in range(3):
                (await client.get(url)).raise_for_status()
            seen: list[str] = []

            def count(*args: Any) -> None:
                seen.append(args[2])

            event.listen(engine, "before_cursor_execute", count)
            started = time.perf_counter()
            for _ in range(n):
                await client.get(url)
            plain_ms = (time.perf_counter() - started) / n * 1000
            event.remove(engine, "before_cursor_execute", count)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                await client.get(url)
            profiler.disable()
        out = io.StringIO()
        out.write(
            f"GET {url}: {plain_ms:.1f} ms per request unprofiled (mean of {n}), "
            f"{len(seen) / n:g} statements per request\n"
        )
        stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
        restrictions: tuple[Any, ...] = (match, top) if match else (top,)
        stats.print_stats(*restrictions)
        return out.getvalue()

    try:
        with _inline_threads():
            return asyncio.run(run())
    finally:
        engine.dispose()
