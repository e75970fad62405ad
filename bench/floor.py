"""The framework floor: the API against a bare Starlette app running the very same SQL.

For each endpoint the SQL one request runs is captured in-process (bench/capture.py);
a bare Starlette app (one uvicorn process, sync routes in the thread pool as the
API's are, a small pool of psycopg / sqlite3 connections) replays exactly those
statements for ``GET /floor/<i>`` and JSON-encodes the rows of every result. Both
servers are then loaded by the same concurrent clients for the same time, one after
the other, and the ratio of their throughputs is what the framework, auth, ORM and
serialization cost beyond the query itself.

``python -m bench floor`` needs a database a ``run`` left (``--reuse-db`` semantics).
"""

from __future__ import annotations

import json
import pickle
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.capture import InProcessApp, Statement
from bench.databases import BenchDatabase
from bench.machine import cpu_seconds, loadavg
from bench.server import LOOPBACK, free_port, started

# The list pages and dashboard reads of issue 16's comparison; {ministry} is the busiest.
FLOOR_URLS = (
    "/v1/commitments?limit=50",
    "/v1/ministries?limit=50",
    "/v1/progress/clusters",
    "/v1/progress/ministries",
    "/v1/progress/summary",
)


def _default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def build_app(db: BenchDatabase, statements: list[list[Statement]], pool_size: int) -> Any:
    """The bare app: ``GET /floor/<i>`` replays ``statements[i]`` and answers its rows."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool: queue.Queue[Any] = queue.Queue()
    for _ in range(pool_size):
        pool.put(db.raw_connect(any_thread=True))

    def endpoint(request: Request) -> Response:
        captured = statements[int(request.path_params["i"])]
        conn = pool.get()
        try:
            out = []
            cur = conn.cursor()
            for st in captured:
                if st.sql.lstrip().upper().startswith("BEGIN"):
                    continue
                cur.execute(st.sql, st.params)
                if cur.description is not None:
                    names = [d[0] for d in cur.description]
                    out.append([dict(zip(names, row, strict=True)) for row in cur.fetchall()])
            cur.close()
            conn.commit()
        finally:
            pool.put(conn)
        body = json.dumps(out, default=_default, separators=(",", ":"), ensure_ascii=False)
        return Response(body, media_type="application/json")

    def healthz(_request: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[Route("/floor/{i:int}", endpoint), Route("/healthz", healthz)])


def serve_floor(spec: Path, port: int) -> None:
    """Entry of the floor server subprocess (``python -m bench.floor SPEC PORT``)."""
    import uvicorn

    loaded = pickle.loads(spec.read_bytes())
    app = build_app(loaded["db"], loaded["statements"], loaded["pool_size"])
    uvicorn.run(app, host=LOOPBACK, port=port, log_level="warning", access_log=False)


@contextmanager
def floor_server(
    db: BenchDatabase, statements: list[list[Statement]], pool_size: int, log_path: Path
) -> Iterator[tuple[str, int]]:
    """The floor server: its URL and process id."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "floor.pickle"
        spec.write_bytes(pickle.dumps({"db": db, "statements": statements, "pool_size": pool_size}))
        argv = [sys.executable, "-m", "bench.floor", str(spec), str(port)]
        with started(argv, port, log_path) as (url, process):
            yield url, process.pid


def load(
    base: str, path: str, headers: dict[str, str], *, clients: int, seconds: float, pid: int
) -> dict[str, Any]:
    """``clients`` threads GET ``path`` back to back for ``seconds``: requests per second,
    and the server's CPU time (``pid`` and its children) per request."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    codes: dict[int, int] = {}
    done = 0

    def worker() -> None:
        nonlocal done
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            client.get(path)  # warm: connection and first-request setup
            n = 0
            mine: dict[int, int] = {}
            while time.monotonic() < stop:
                code = client.get(path).status_code
                mine[code] = mine.get(code, 0) + 1
                n += 1
        with lock:
            done += n
            for k, v in mine.items():
                codes[k] = codes.get(k, 0) + v

    cpu_before = cpu_seconds(pid)
    started_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    wall = time.monotonic() - started_at
    cpu = cpu_seconds(pid) - cpu_before
    return {
        "requests": done,
        "req_per_s": round(done / wall, 1),
        "status": codes,
        # The warm-up requests ran on the server too.
        "cpu_ms_per_request": round(cpu / (done + clients) * 1000, 2),
    }


def measure(
    db: BenchDatabase,
    app: InProcessApp,
    apis: list[tuple[str, str, int]],
    token: str,
    *,
    urls: tuple[str, ...] = FLOOR_URLS,
    clients: int = 8,
    seconds: float = 10.0,
    log_dir: Path,
) -> list[dict[str, Any]]:
    """Each endpoint on every API server of ``apis`` (label, URL, process id), then the floor.

    With more than one server (old and new code), each endpoint's row holds each one's
    figures under its label, and the ratio of each to the floor measured beside them.
    """
    auth = {"Authorization": f"Bearer {token}"}
    captured = [app.capture("GET", u, auth, warm=True) for u in urls]
    rows = []
    with floor_server(
        db, [c.statements for c in captured], clients, log_dir / "floor.server.log"
    ) as (floor, floor_pid):
        for i, (u, c) in enumerate(zip(urls, captured, strict=True)):
            # The servers alternate per endpoint, so a load change hits them alike.
            row: dict[str, Any] = {
                "url": u,
                "statements": len(c.statements),
                "api_status": c.status,
                "load": loadavg(),
            }
            for label, api_url, api_pid in apis:
                row[label] = load(api_url, u, auth, clients=clients, seconds=seconds, pid=api_pid)
            bare = load(floor, f"/floor/{i}", {}, clients=clients, seconds=seconds, pid=floor_pid)
            row["floor"] = bare
            for label, _, _ in apis:
                row[f"ratio_{label}"] = (
                    round(row[label]["req_per_s"] / bare["req_per_s"], 2)
                    if bare["req_per_s"]
                    else None
                )
            rows.append(row)
    return rows


def markdown(
    rows: list[dict[str, Any]], labels: list[str], clients: int, seconds: float, load_avg: str
) -> str:
    lines = [
        f"Framework floor: {clients} concurrent clients, {seconds:g} s per server per "
        f"endpoint, one process each; load average {load_avg}.",
        "",
        "| endpoint | stmts | "
        + " | ".join(f"{x} req/s | {x}/floor | {x} CPU ms/req" for x in labels)
        + " | floor req/s | floor CPU ms/req | load |",
        "|---|---|" + "---|---|---|" * len(labels) + "---|---|---|",
    ]
    for r in rows:
        cells = [
            f"{r[x]['req_per_s']:,.1f} | {r[f'ratio_{x}']:.2f} | {r[x]['cpu_ms_per_request']:.2f}"
            for x in labels
        ]
        started = f"{r['load'][0]:.1f}" if r["load"] else "-"
        lines.append(
            f"| `GET {r['url']}` | {r['statements']} | "
            + " | ".join(cells)
            + f" | {r['floor']['req_per_s']:,.1f} | {r['floor']['cpu_ms_per_request']:.2f}"
            f" | {started} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    serve_floor(Path(sys.argv[1]), int(sys.argv[2]))
