"""HTTP timings against the live server, each set beside its captured SQL replayed raw."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import fmean
from typing import Any

import httpx

from bench.capture import InProcessApp, Statement, plan, replay
from bench.databases import BenchDatabase, DbKind
from bench.stats import summary_ms

# The progress and report endpoints the contract names (docs/concepts.md); each is timed
# when the app at run time has it, and listed as skipped otherwise.
EXPECTED_PROGRESS = (
    "/v1/progress/summary",
    "/v1/progress/ministries",
    "/v1/progress/clusters",
    "/v1/progress/instruments",
    "/v1/progress/timeline",
)
EXPECTED_REPORTS = (
    "/v1/reports/commitments",
    "/v1/reports/recommendations",
    "/v1/reports/status-history",
)
QUERY_FOR = {"/v1/progress/timeline": "interval=month"}
# A past review meeting inside the generated history (January 2024 to November 2026).
PAST_AS_OF = "2025-12-31"
HTTP_TIMEOUT = 600.0
MIN_SAMPLES = 5


@dataclass(frozen=True)
class ReadEndpoint:
    name: str
    url: str


def read_endpoints(
    paths: dict[str, Any], busiest_ministry: int
) -> tuple[list[ReadEndpoint], list[dict[str, str]]]:
    """What to time, from ``app.openapi()["paths"]``; the missing ones with a note."""
    endpoints = [
        # Baselines: the fixed cost of a request with no SQL, and with only the sign-in SQL.
        ReadEndpoint("baseline: liveness", "/healthz"),
        ReadEndpoint("baseline: caller (auth only)", "/v1/me"),
        ReadEndpoint("commitments (plain)", "/v1/commitments?limit=50"),
        ReadEndpoint(
            "commitments (ministry_id + overdue)",
            f"/v1/commitments?limit=50&ministry_id={busiest_ministry}&overdue=true",
        ),
        ReadEndpoint("commitments (contested)", "/v1/commitments?limit=50&contested=true"),
    ]
    skipped: list[dict[str, str]] = []
    for route in _routes(paths, "/v1/progress/", EXPECTED_PROGRESS, skipped):
        query = QUERY_FOR.get(route)
        endpoints.append(ReadEndpoint(route, f"{route}?{query}" if query else route))
        # The same figures under a filter, and as of a past review meeting.
        for label, extra in (
            ("ministry_id", f"ministry_id={busiest_ministry}"),
            ("as_of", f"as_of={PAST_AS_OF}"),
        ):
            both = f"{query}&{extra}" if query else extra
            endpoints.append(ReadEndpoint(f"{route} ({label})", f"{route}?{both}"))
    # Every report the app has, in both formats.
    for route in _routes(paths, "/v1/reports/", EXPECTED_REPORTS, skipped):
        endpoints.append(ReadEndpoint(f"{route} (JSON)", route))
        endpoints.append(ReadEndpoint(f"{route} (CSV)", f"{route}?format=csv"))
    return endpoints, skipped


def _routes(
    paths: dict[str, Any], prefix: str, expected: Sequence[str], skipped: list[dict[str, str]]
) -> list[str]:
    """The app's GET routes under ``prefix`` (no path parameters), sorted; each expected
    one the app lacks goes in ``skipped``."""
    present = sorted(
        p for p in paths if p.startswith(prefix) and "{" not in p and "get" in paths[p]
    )
    for route in sorted(set(expected) - set(present)):
        skipped.append({"path": route, "reason": "not in app.openapi() at run time"})
    return present


def _statement_means(statements: Sequence[Statement], per: list[list[float]]) -> list[float]:
    return [fmean(run[i] for run in per) for i in range(len(statements))] if per else []


def _detail(statements: Sequence[Statement], means: list[float]) -> list[dict[str, Any]]:
    """Each captured statement: its mean raw time and how it starts."""
    return [
        {"index": i, "mean_ms": round(m * 1000, 3), "chars": len(st.sql), "sql": st.snippet(120)}
        for i, (st, m) in enumerate(zip(statements, means, strict=True))
    ]


def _slowest(statements: Sequence[Statement], means: list[float]) -> dict[str, Any] | None:
    if not statements or not means:
        return None
    i = max(range(len(means)), key=means.__getitem__)
    return {
        "index": i,
        "mean_ms": round(means[i] * 1000, 3),
        "share": round(means[i] / sum(means), 3) if sum(means) else None,
        "sql": statements[i].snippet(),
    }


def time_read(
    endpoint: ReadEndpoint,
    client: httpx.Client,
    app: InProcessApp,
    db: BenchDatabase,
    auth: dict[str, str],
    *,
    n: int,
    warmup: int,
    budget_s: float,
) -> dict[str, Any]:
    """API p50/p95 over real HTTP and the same SQL replayed raw, alternating, N times each.

    A very slow endpoint stops early once ``budget_s`` has passed and ``MIN_SAMPLES``
    timed pairs exist; the result then says how many were taken and why.
    """
    captured = app.capture("GET", endpoint.url, auth, warm=True)
    api_times: list[float] = []
    raw_times: list[float] = []
    per_statement: list[list[float]] = []
    rows = 0
    body_bytes = 0
    statuses: set[int] = set()
    raw = db.raw_connect()
    cut_short = False
    started = time.perf_counter()
    try:
        for i in range(warmup + n):
            over = time.perf_counter() - started > budget_s
            if over and len(api_times) >= MIN_SAMPLES:
                cut_short = True
                break
            t0 = time.perf_counter()
            response = client.get(endpoint.url)
            elapsed = time.perf_counter() - t0
            statuses.add(response.status_code)
            body_bytes = len(response.content)
            done = replay(raw, captured.statements)
            rows = done.rows
            if i >= warmup:
                api_times.append(elapsed)
                raw_times.append(done.seconds)
                per_statement.append(done.per_statement)
        means = _statement_means(captured.statements, per_statement)
        slowest = _slowest(captured.statements, means)
        if slowest is not None:
            slowest["plan"] = plan(
                raw, captured.statements[slowest["index"]], postgres=db.kind is DbKind.postgres
            )
    finally:
        raw.close()
    api = summary_ms(api_times)
    raw_summary = summary_ms(raw_times)
    return {
        "name": endpoint.name,
        "method": "GET",
        "url": endpoint.url,
        "http_status": sorted(statuses),
        "in_process_status": captured.status,
        "response_bytes": body_bytes,
        "statements": len(captured.statements),
        "rows_fetched_raw": rows,
        "api": api,
        "raw": raw_summary,
        "ratio_p50": round(api["p50_ms"] / raw_summary["p50_ms"], 2)
        if raw_summary["p50_ms"]
        else None,
        "statement_detail": _detail(captured.statements, means),
        "slowest_statement": slowest,
        "cut_short": cut_short,
    }


def _post_body(i: int) -> dict[str, Any]:
    return {
        "status": "in_progress",
        "progress_percent": 10 + i % 80,
        "summary": f"Benchmark status update {i}: work continues as planned.",
    }


def _post(client: httpx.Client, commitment_id: int, i: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.post(f"/v1/commitments/{commitment_id}/status-updates", json=_post_body(i))
    return time.perf_counter() - t0, r.status_code


def _posts_summary(times: list[float], codes: list[int], wall: float) -> dict[str, Any]:
    ok = sum(1 for c in codes if c == 201)
    return {
        "posts": len(codes),
        "created": ok,
        "errors": {str(c): codes.count(c) for c in sorted(set(codes)) if c != 201},
        "seconds": round(wall, 3),
        "posts_per_s": round(ok / wall, 1) if wall else None,
        "latency": summary_ms(times),
    }


def time_posts(
    make_client: Callable[[], httpx.Client],
    commitment_ids: Sequence[int],
    *,
    posts: int,
    threads: int,
    warmup: int,
    mark: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """POST /v1/commitments/{id}/status-updates: sequential, then ``threads`` concurrent.

    ``mark`` is called with ``"sequential"`` after the warm-up, ``"concurrent"`` between
    the two and ``"end"`` after them (to read the CPU time each part used)."""
    with make_client() as client:
        for i in range(warmup):
            _post(client, commitment_ids[i % len(commitment_ids)], i)
        if mark is not None:
            mark("sequential")
        times: list[float] = []
        codes: list[int] = []
        started = time.perf_counter()
        for i in range(posts):
            elapsed, code = _post(client, commitment_ids[(warmup + i) % len(commitment_ids)], i)
            times.append(elapsed)
            codes.append(code)
        sequential = _posts_summary(times, codes, time.perf_counter() - started)
    if mark is not None:
        mark("concurrent")

    per_thread = max(1, posts // threads)
    offset = warmup + posts

    def worker(t: int) -> list[tuple[float, int]]:
        out = []
        with make_client() as client:
            for j in range(per_thread):
                k = offset + t * per_thread + j
                out.append(_post(client, commitment_ids[k % len(commitment_ids)], k))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [r for chunk in pool.map(worker, range(threads)) for r in chunk]
    wall = time.perf_counter() - started
    if mark is not None:
        mark("end")
    concurrent = _posts_summary([r[0] for r in results], [r[1] for r in results], wall)
    concurrent["threads"] = threads
    return {"sequential": sequential, "concurrent": concurrent}


def post_endpoint_row(
    posts: dict[str, Any], captured_statements: int, captured_status: int
) -> dict[str, Any]:
    """The POST's row in the endpoint table (no raw replay: it writes and extends the chain)."""
    seq = posts["sequential"]
    return {
        "name": "POST /v1/commitments/{id}/status-updates",
        "method": "POST",
        "url": "/v1/commitments/{id}/status-updates",
        "http_status": [201] if not seq["errors"] else sorted([201, *map(int, seq["errors"])]),
        "in_process_status": captured_status,
        "statements": captured_statements,
        "api": seq["latency"],
        "raw": None,
        "ratio_p50": None,
    }
