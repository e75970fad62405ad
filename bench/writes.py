"""Writes under concurrency (issue 16 item 5): status-update posts against the chain lock.

``python -m bench writes --size M --db postgres`` uses the database an earlier ``run``
loaded (``VPI_BENCH_DB_SUFFIX`` names it) and, for each ``--workers`` value, starts
``vpitracker serve --workers N`` and times ``--posts`` sequential posts, then as many
spread over ``--clients`` threads. With ``--baseline DIR`` (a source tree, e.g. an
exported older commit with its ``src/`` and ``migrations/``) every measurement is
made with both codes, alternating, so old and new share the machine's conditions;
the server of the baseline runs with ``PYTHONPATH=DIR/src``.

Each measurement also counts the rows: every acknowledged post (201) must be one new
status update and one new audit event (nothing acknowledged lost, nothing extra).
At the end ``vpitracker audit verify`` checks the chain (see ``runner._verify``).

``profile`` (in-process, sequential, then concurrent threads) times each statement of
a post and the serial section: from the first statement that takes a lock every
post needs (the chain's advisory lock, or the month's count row) to the end of the
commit. On SQLite the whole write transaction is serial (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event, text

from bench import api, lockprobe
from bench.databases import RESULTS_DIR, BenchDatabase
from bench.machine import cpu_seconds, loadavg
from bench.server import serve
from bench.stats import summary_ms
from vpitracker.db import make_engine, unit_of_work
from vpitracker.kernel.actor import Actor
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import StatusUpdateCreate
from vpitracker.vocab import ReportedStatus, Role

# Statements that take a lock every post needs: where the serial section starts.
SHARED_LOCKS = re.compile(
    r"pg_advisory_xact_lock|audit_chain_head|audit_append|INSERT INTO update_month", re.IGNORECASE
)


@dataclass
class _Post:
    statements: list[tuple[str, float, float]] = field(default_factory=list)


def _snippet(sql: str, width: int = 110) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def profile(
    database_url: str, actor: Actor, commitment_ids: Sequence[int], *, posts: int, threads: int
) -> dict[str, Any]:
    """Each post's statements (text, start, seconds) and its serial section, in-process."""
    engine = make_engine(database_url)
    local = threading.local()

    def before(conn: Any, _cur: Any, _stmt: str, *_rest: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        post: _Post | None = getattr(local, "post", None)
        if post is not None:
            t0 = conn.info.pop("bench_t0")
            post.statements.append((statement, t0, time.perf_counter() - t0))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    sqlite = engine.dialect.name == "sqlite"

    def one(n: int) -> dict[str, Any]:
        local.post = post = _Post()
        body = StatusUpdateCreate(
            status=ReportedStatus.in_progress,
            progress_percent=10 + n % 80,
            summary=f"Profiled post {n}: work continues as planned.",
        )
        started, cpu_started = time.perf_counter(), time.thread_time()
        with unit_of_work(engine) as session:
            reporting_service.post_update(
                session, actor, commitment_ids[n % len(commitment_ids)], body
            )
        ended, cpu = time.perf_counter(), time.thread_time() - cpu_started
        local.post = None
        shared = [s for s in post.statements if SHARED_LOCKS.search(s[0])]
        first = post.statements[0][1] if sqlite or not shared else shared[0][1]
        wait = 0.0 if sqlite or not shared else shared[0][2]
        under = [s for s in post.statements if s[1] >= first]
        return {
            "total": ended - started,
            "cpu": cpu,
            "statements": len(post.statements),
            "under_lock": len(under),
            # From taking the first shared lock (its wait excluded) to the commit's end.
            "serial": ended - first - wait,
            "lock_wait": wait,
            "commit": ended - (post.statements[-1][1] + post.statements[-1][2]),
            "detail": [
                (_snippet(sql), round(seconds * 1000, 3), t0 >= first)
                for sql, t0, seconds in post.statements
            ],
        }

    try:
        for n in range(10):  # warm the pool, the plans and the caches
            one(n)
        sequential = [one(10 + n) for n in range(posts)]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            concurrent = list(pool.map(one, range(10 + posts, 10 + 2 * posts)))
    finally:
        engine.dispose()

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "posts": len(rows),
            "total": summary_ms([r["total"] for r in rows]),
            "cpu": summary_ms([r["cpu"] for r in rows]),
            "serial": summary_ms([r["serial"] for r in rows]),
            "lock_wait": summary_ms([r["lock_wait"] for r in rows]),
            "commit": summary_ms([r["commit"] for r in rows]),
            "statements": max(r["statements"] for r in rows),
            "under_lock": max(r["under_lock"] for r in rows),
        }

    return {
        "dialect": engine.dialect.name,
        "sequential": summary(sequential),
        "concurrent": {**summary(concurrent), "threads": threads},
        "one_post": sequential[-1]["detail"],
    }


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        updates = conn.execute(text("SELECT count(*) FROM status_update")).scalar_one()
        events = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    return int(updates), int(events)


def _backend_pids(engine: Engine) -> list[int]:
    """The PostgreSQL backends serving the bench database (this connection's aside)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalars()
        return [int(pid) for pid in rows]


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds each process has used so far (one that has gone is left out)."""
    out = {}
    for pid in pids:
        try:
            out[pid] = cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue
    return out


class CpuMarks:
    """CPU time the server (its process tree) and the database's backends use per part.

    ``mark(part)`` closes the part before it and opens ``part``; ``per_post`` divides
    each part's CPU by its posts. Backends that start within a part count from zero.
    """

    def __init__(self, engine: Engine, server_pid: int) -> None:
        self.engine, self.server_pid = engine, server_pid
        self.parts: dict[str, tuple[float, float]] = {}
        self._open: tuple[str, float, dict[int, float]] | None = None

    def mark(self, part: str) -> None:
        server = cpu_seconds(self.server_pid)
        backends = _cpu_of(_backend_pids(self.engine))
        if self._open is not None:
            name, server_before, backends_before = self._open
            database = sum(t - backends_before.get(pid, 0.0) for pid, t in backends.items())
            self.parts[name] = (server - server_before, database)
        self._open = (part, server, backends)

    def per_post(self, part: str, posts: int) -> dict[str, float | None]:
        if part not in self.parts or not posts:
            return {"server_cpu_ms": None, "database_cpu_ms": None}
        server, database = self.parts[part]
        return {
            "server_cpu_ms": round(server / posts * 1000, 2),
            "database_cpu_ms": round(database / posts * 1000, 2),
        }


def code_env(env: dict[str, str], source: Path | None) -> dict[str, str]:
    """The environment that runs ``source``'s code (None: this checkout's)."""
    if source is None:
        return env
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join([str(source / "src"), env.get("PYTHONPATH", "")])
    out["VPI_MIGRATIONS_DIR"] = str(source / "migrations")
    return out


def measure_http(
    db: BenchDatabase,
    env: dict[str, str],
    commitment_ids: Sequence[int],
    *,
    workers: int,
    clients: int,
    posts: int,
    warmup: int,
    label: str,
) -> dict[str, Any]:
    """One server, sequential then concurrent posts, and what the database gained."""
    engine = make_engine(db.url)
    before = _counts(engine)
    started_load = loadavg()
    log = RESULTS_DIR / f"writes-{label}-w{workers}.server.log"
    probe = RESULTS_DIR / f"writes-{label}-w{workers}.lock.txt"
    probe.unlink(missing_ok=True)
    marks: dict[str, float] = {}
    served = {**env, lockprobe.PROBE_ENV: str(probe)}
    with serve(served, log, workers=workers, launcher="bench.lockprobe") as server:
        token = server.token()

        def client() -> httpx.Client:
            return httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=api.HTTP_TIMEOUT,
            )

        cpu = CpuMarks(engine, server.process.pid)

        def mark(part: str) -> None:
            marks[part] = time.time()
            cpu.mark(part)

        timed = api.time_posts(
            client, commitment_ids, posts=posts, threads=clients, warmup=warmup, mark=mark
        )
        time.sleep(3 * lockprobe.FLUSH_SECONDS)  # the probe's last lines written
    for part, until in (("sequential", "concurrent"), ("concurrent", "end")):
        timed[part].update(cpu.per_post(part, timed[part]["posts"]))
        seen = lockprobe.read(str(probe), marks[part], marks[until])
        timed[part]["lock"] = {
            "commits": len(seen["held"]),
            **{k: summary_ms(v) if v else None for k, v in seen.items()},
        }
    ended_load = loadavg()
    after = _counts(engine)
    engine.dispose()
    created = warmup + timed["sequential"]["created"] + timed["concurrent"]["created"]
    return {
        "code": label,
        "workers": workers,
        **timed,
        "load": [started_load[0] if started_load else None, ended_load[0] if ended_load else None],
        "new_updates": after[0] - before[0],
        "new_events": after[1] - before[1],
        "acknowledged": created,
        "nothing_lost": after[0] - before[0] == created and after[1] - before[1] == created,
    }


def run_profile(
    db: BenchDatabase, env: dict[str, str], actor_id: int, *, posts: int, threads: int
) -> dict[str, Any]:
    """``profile`` in a subprocess that imports the code ``env`` names."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "writes-profile", "--url", db.url,
         "--actor", str(actor_id), "--posts", str(posts), "--threads", str(threads)],
        env=env, capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def secretariat_actor(actor_id: int) -> Actor:
    return Actor(kind="user", id=actor_id, role=Role.secretariat, email="bench")


def _cpu(part: dict[str, Any]) -> str:
    server, database = part.get("server_cpu_ms"), part.get("database_cpu_ms")
    if server is None:
        return "-"
    return f"{server} + {database}"


def _lock(part: dict[str, Any]) -> str:
    """The chain lock in the served process, p50 ms: held, commit, handoff, the cycle
    (wait p50 / p95)."""
    lock = part.get("lock") or {}
    wait = lock.get("wait")
    if not wait:
        return "-"
    p50 = [f"{lock[k]['p50_ms']}" if lock.get(k) else "-" for k in ("held", "commit", "handoff")]
    cycle = lock["cycle"]["p50_ms"] if lock.get("cycle") else "-"
    return f"{' + '.join(p50)}, cycle {cycle} ({wait['p50_ms']} / {wait['p95_ms']})"


def markdown(rows: list[dict[str, Any]], profiles: dict[str, dict[str, Any]]) -> str:
    out = [
        "| code | server | posts/s, clients | p50 ms | p95 ms | errors | sequential posts/s "
        "(p50 / p95 ms) | CPU ms/post, server + database: sequential; clients "
        "| chain lock p50 ms, held + commit + handoff, cycle (wait p50 / p95): sequential; clients "
        "| acknowledged = new rows | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, s = r["concurrent"], r["sequential"]
        load = " → ".join(f"{x:.1f}" if x is not None else "-" for x in r["load"])
        out.append(
            f"| {r['code']} | `--workers {r['workers']}` | {c['posts_per_s']} ({c['threads']}) "
            f"| {c['latency']['p50_ms']:,} | {c['latency']['p95_ms']:,} "
            f"| {c['errors'] or s['errors'] or 'none'} "
            f"| {s['posts_per_s']} ({s['latency']['p50_ms']:,} / {s['latency']['p95_ms']:,}) "
            f"| {_cpu(s)}; {_cpu(c)} | {_lock(s)}; {_lock(c)} "
            f"| {'yes' if r['nothing_lost'] else 'NO'} ({r['acknowledged']}) | {load} |"
        )
    for label, p in profiles.items():
        if "error" in p:
            out.append(f"\nProfile {label}: failed: {p['error'][-300:]}")
            continue
        seq, con = p["sequential"], p["concurrent"]
        out.append(
            f"\nProfile {label} ({p['dialect']}, in-process): sequential post p50 "
            f"{seq['total']['p50_ms']} ms (its thread's CPU {seq['cpu']['p50_ms']} ms), "
            f"serial section p50 {seq['serial']['p50_ms']} ms "
            f"(commit {seq['commit']['p50_ms']} ms), {seq['statements']} statements, "
            f"{seq['under_lock']} under the lock; {con['threads']} threads: post p50/p95 "
            f"{con['total']['p50_ms']} / {con['total']['p95_ms']} ms, lock wait p50/p95 "
            f"{con['lock_wait']['p50_ms']} / {con['lock_wait']['p95_ms']} ms, serial p50 "
            f"{con['serial']['p50_ms']} ms"
        )
        out.append("")
        out.extend(
            f"    {'*' if locked else ' '} {ms:8.3f} ms  {sql}" for sql, ms, locked in p["one_post"]
        )
    return "\n".join(out)
