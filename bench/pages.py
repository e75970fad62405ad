"""Server-rendering cost of the web pages against the API calls that carry the same figures.

``python -m bench pages --url http://127.0.0.1:8000 --email … --password …`` against a
running server (for instance one a ``run --reuse-db`` would time): signs in once on the
pages (cookie) and once on the API (token), then times, alternating, the scorecard
``/`` against ``GET /v1/progress/summary`` + ``/v1/progress/ministries`` and
``/commitments/{id}`` against the commitment, its updates and its assessments.

``python -m bench pages --size M --db postgres`` does it all itself: a fresh database of
its own (``vpi_bench_pages_<size>``, so a ``run`` of the same size is left alone), the
dataset, the secretariat, a live server; ``--reuse-db`` times that database again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
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
    pages = page_client(url, email, password)
    api = api_client(url, email, password)
    commitment = api.get("/v1/commitments?limit=1").json()["items"][0]["id"]
    pairs = [
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
    rows = []
    for page_name, page_call, api_name, api_call in pairs:
        load_before = loadavg()
        for _ in range(warmup):
            page_call()
            api_call()
        page_times, api_times = [], []
        for _ in range(n):  # alternating, so drift hits both alike
            page_times.append(_timed(page_call))
            api_times.append(_timed(api_call))
        page_s, api_s = summary_ms(page_times), summary_ms(api_times)
        rows.append(
            {
                "page": page_name,
                "page_ms": page_s,
                "api": api_name,
                "api_ms": api_s,
                "p95_ratio": round(page_s["p95_ms"] / api_s["p95_ms"], 2),
                "p50_ratio": round(page_s["p50_ms"] / api_s["p50_ms"], 2),
                # 1-minute load average before and after: 2 shared CPUs skew every timing.
                "load": [load_before[0] if load_before else None, _load1()],
            }
        )
    return rows


def _load1() -> float | None:
    found = loadavg()
    return found[0] if found else None


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| page | p50 ms | p95 ms | API calls, same figures | p50 ms | p95 ms | p95 ratio "
        "| p50 ratio | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        start, end = r["load"]
        lines.append(
            f"| `{r['page']}` | {r['page_ms']['p50_ms']} | {r['page_ms']['p95_ms']} | {r['api']} "
            f"| {r['api_ms']['p50_ms']} | {r['api_ms']['p95_ms']} | {r['p95_ratio']} "
            f"| {r['p50_ratio']} | {start} → {end} |"
        )
    return "\n".join(lines)


def sized(
    size: str, kind: DbKind, *, seed: int, n: int, warmup: int, reuse_db: bool
) -> list[dict[str, Any]]:
    """``compare`` on a database of its own, loaded with the dataset of ``size``."""
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
    with serve(serving, log) as server:
        return compare(server.url, SECRETARIAT_EMAIL, SECRETARIAT_PASSWORD, n=n, warmup=warmup)
