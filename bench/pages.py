"""Server-rendering cost of the web pages against the API calls that carry the same figures.

``python -m bench pages --url http://127.0.0.1:8000 --email … --password …`` against a
running server (for instance one a ``run --reuse-db`` would time): signs in once on the
pages (cookie) and once on the API (token), then times, alternating, the scorecard
``/`` against ``GET /v1/progress/summary`` + ``/v1/progress/ministries`` and
``/commitments/{id}`` against the commitment, its updates and its assessments.

``python -m bench pages --size M --db postgres`` does it all itself: a fresh database of
its own (``vpi_bench_pages_<size>``, so a ``run`` of the same size is left alone), the
dataset, the secretariat, a live server; ``--reuse-db`` times that database again.
``--baseline DIR`` (older code, e.g. ``git archive <commit> src migrations``) serves the
same database beside this checkout's, and every call of both alternates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.databases import RESULTS_DIR, DbKind, database_for, recreate
from bench.datagen import load
from bench.machine import loadavg
from bench.server import (
    SECRETARIAT_EMAIL,
    SECRETARIAT_PASSWORD,
    create_secretariat,
    new_secret_key,
    serve,
    server_env,
)
from bench.sizes import SIZES
from bench.stats import summary_ms
from bench.writes import code_env
from vpitracker import migrate
from vpitracker.db import make_engine

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def page_client(url: str, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    form = client.get("/login")
    token = CSRF.search(form.text)
    if token is None:
        raise RuntimeError("no sign-in form at /login")
    r = client.post(
        "/login", data={"username": email, "password": password, "csrf_token": token.group(1)}
    )
    if r.status_code != 303:
        raise RuntimeError(f"page sign-in failed: {r.status_code}")
    return client


def api_client(url: str, email: str, password: str) -> httpx.Client:
    r = httpx.post(f"{url}/v1/auth/token", data={"username": email, "password": password})
    r.raise_for_status()
    token = r.json()["access_token"]
    return httpx.Client(base_url=url, timeout=120, headers={"Authorization": f"Bearer {token}"})


def _timed(calls: Callable[[], None]) -> float:
    start = time.perf_counter()
    calls()
    return time.perf_counter() - start


def _get_all(client: httpx.Client, *paths: str) -> Callable[[], None]:
    def run() -> None:
        for path in paths:
            client.get(path).raise_for_status()

    return run


def compare(url: str, email: str, password: str, *, n: int, warmup: int) -> list[dict[str, Any]]:
    return compare_servers({"": url}, email, password, n=n, warmup=warmup)


def _pairs(url: str, email: str, password: str) -> list[tuple[str, Callable[[], None], str, Any]]:
    pages = page_client(url, email, password)
    api = api_client(url, email, password)
    commitment = api.get("/v1/commitments?limit=1").json()["items"][0]["id"]
    return [
        (
            "/",
            _get_all(pages, "/"),
            "summary + ministries",
            _get_all(api, "/v1/progress/summary", "/v1/progress/ministries"),
        ),
        (
            f"/commitments/{commitment}",
            _get_all(pages, f"/commitments/{commitment}"),
            "commitment + updates + assessments",
            _get_all(
                api,
                f"/v1/commitments/{commitment}",
                f"/v1/commitments/{commitment}/status-updates?limit=1000",
                f"/v1/commitments/{commitment}/assessments?limit=1000",
            ),
        ),
    ]


def compare_servers(
    servers: dict[str, str], email: str, password: str, *, n: int, warmup: int
) -> list[dict[str, Any]]:
    """``servers``: label -> URL (several: other code on the same database). Per pair,
    each server's page and API calls alternate, so drift and load hit all alike."""
    pairs = {label: _pairs(url, email, password) for label, url in servers.items()}
    rows = []
    for i in range(len(next(iter(pairs.values())))):
        load_before = loadavg()
        calls = {label: found[i] for label, found in pairs.items()}
        for _ in range(warmup):
            for _name, page_call, _api, api_call in calls.values():
                page_call()
                api_call()
        times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in calls}
        for _ in range(n):
            for label, (_name, page_call, _api, api_call) in calls.items():
                times[label][0].append(_timed(page_call))
                times[label][1].append(_timed(api_call))
        load_after = _load1()
        for label, (page_name, _page, api_name, _call) in calls.items():
            page_s, api_s = summary_ms(times[label][0]), summary_ms(times[label][1])
            rows.append(
                {
                    "code": label,
                    "page": page_name,
                    "page_ms": page_s,
                    "api": api_name,
                    "api_ms": api_s,
                    "p95_ratio": round(page_s["p95_ms"] / api_s["p95_ms"], 2),
                    "p50_ratio": round(page_s["p50_ms"] / api_s["p50_ms"], 2),
                    # 1-minute load average before and after: 2 shared CPUs skew every timing.
                    "load": [load_before[0] if load_before else None, load_after],
                }
            )
    return rows


def _load1() -> float | None:
    found = loadavg()
    return found[0] if found else None


def markdown(rows: list[dict[str, Any]]) -> str:
    labelled = any(r.get("code") for r in rows)
    lines = [
        ("| code " if labelled else "")
        + "| page | p50 ms | p95 ms | API calls, same figures | p50 ms | p95 ms | p95 ratio "
        "| p50 ratio | load |",
        ("|---" if labelled else "") + "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        start, end = r["load"]
        code = f"| {r['code']} " if labelled else ""
        lines.append(
            f"{code}| `{r['page']}` | {r['page_ms']['p50_ms']} | {r['page_ms']['p95_ms']} "
            f"| {r['api']} "
            f"| {r['api_ms']['p50_ms']} | {r['api_ms']['p95_ms']} | {r['p95_ratio']} "
            f"| {r['p50_ratio']} | {start} → {end} |"
        )
    return "\n".join(lines)


def sized(
    size: str,
    kind: DbKind,
    *,
    seed: int,
    n: int,
    warmup: int,
    reuse_db: bool,
    baseline: Path | None = None,
) -> list[dict[str, Any]]:
    """``compare`` on a database of its own, loaded with the dataset of ``size``;
    ``baseline`` (a source tree): its code serves the same database beside this one's."""
    db = database_for(kind, f"pages_{size}")
    env = server_env(db.url, new_secret_key())
    engine = make_engine(db.url)
    try:
        if not reuse_db:
            recreate(db)
            migrate.upgrade(engine)
            load(db, engine, SIZES[size], seed)
        else:
            migrate.upgrade(engine)
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT id FROM user_account WHERE email = :e"), {"e": SECRETARIAT_EMAIL}
            ).scalar()
    finally:
        engine.dispose()
    if found is None:
        create_secretariat(env)
    # The page cookie is Secure outside development mode, and this server speaks http.
    serving = {**env, "VPI_ENV": "development"}
    log = Path(RESULTS_DIR) / f"pages-{size}-{kind.value}.server.log"
    with ExitStack() as stack:
        servers = {}
        if baseline is not None:
            old_log = log.with_suffix(".baseline.log")
            old = stack.enter_context(serve(code_env(serving, baseline), old_log))
            servers["baseline"] = old.url
        server = stack.enter_context(serve(serving, log))
        servers["this" if baseline is not None else ""] = server.url
        return compare_servers(servers, SECRETARIAT_EMAIL, SECRETARIAT_PASSWORD, n=n, warmup=warmup)
