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
import subprocess
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
from bench.server import LOOPBACK, STARTUP_SECONDS, free_port

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

    return Starlette(routes=[Route("/floor/{i:int}", endpoint)])


def serve_floor(spec: Path, port: int) -> None:
    """Entry of the floor server subprocess (``python -m bench.floor SPEC PORT``)."""
    import uvicorn

    loaded = pickle.loads(spec.read_bytes())
    app = build_app(loaded["db"], loaded["statements"], loaded["pool_size"])
    uvicorn.run(app, host=LOOPBACK, port=port, log_level="warning", access_log=False)


@contextmanager
def floor_server(
    db: BenchDatabase, statements: list[list[Statement]], pool_size: int, log_path: Path
) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "floor.pickle"
        spec.write_bytes(pickle.dumps({"db": db, "statements": statements, "pool_size": pool_size}))
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.floor", str(spec), str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            url = f"http://{LOOPBACK}:{port}"
            try:
                deadline = time.monotonic() + STARTUP_SECONDS
                while True:
                    try:
                        httpx.get(f"{url}/", timeout=1)
                        break
                    except httpx.TransportError:
                        pass
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the floor server did not come up; see {log_path}")
                    time.sleep(0.2)
                yield url
            finally:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def load(
    base: str, path: str, headers: dict[str, str], *, clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` threads GET ``path`` back to back for ``seconds``: requests per second."""
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

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    wall = time.monotonic() - started
    return {"requests": done, "req_per_s": round(done / wall, 1), "status": codes}


def measure(
    db: BenchDatabase,
    app: InProcessApp,
    api_url: str,
    token: str,
    *,
    urls: tuple[str, ...] = FLOOR_URLS,
    clients: int = 8,
    seconds: float = 10.0,
    log_dir: Path,
) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {token}"}
    captured = [app.capture("GET", u, auth, warm=True) for u in urls]
    rows = []
    with floor_server(
        db, [c.statements for c in captured], clients, log_dir / "floor.server.log"
    ) as floor:
        for i, (u, c) in enumerate(zip(urls, captured, strict=True)):
            # API and floor alternate per endpoint, so a load change hits both alike.
            api = load(api_url, u, auth, clients=clients, seconds=seconds)
            bare = load(floor, f"/floor/{i}", {}, clients=clients, seconds=seconds)
            rows.append(
                {
                    "url": u,
                    "statements": len(c.statements),
                    "api_status": c.status,
                    "api": api,
                    "floor": bare,
                    "ratio": round(api["req_per_s"] / bare["req_per_s"], 2)
                    if bare["req_per_s"]
                    else None,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]], clients: int, seconds: float, load_avg: str) -> str:
    lines = [
        f"Framework floor: {clients} concurrent clients, {seconds:g} s per server per "
        f"endpoint, one process each; load average {load_avg}.",
        "",
        "| endpoint | stmts | API req/s | floor req/s | API/floor |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `GET {r['url']}` | {r['statements']} | {r['api']['req_per_s']:,.1f} | "
            f"{r['floor']['req_per_s']:,.1f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    serve_floor(Path(sys.argv[1]), int(sys.argv[2]))
