"""One benchmark run: fresh database, bulk load, live server, timings, result file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from sqlalchemy import Engine, func, select, text

from bench import api, chain, memory
from bench.capture import InProcessApp
from bench.databases import RESULTS_DIR, BenchDatabase, DbKind, database_for, recreate
from bench.datagen import load
from bench.machine import app_fingerprint, describe, loadavg
from bench.report import render_run
from bench.server import (
    SECRETARIAT_EMAIL,
    SECRETARIAT_PASSWORD,
    create_secretariat,
    new_secret_key,
    serve,
    server_env,
)
from bench.sizes import SIZES
from vpitracker import migrate
from vpitracker.auth.passwords import hash_password
from vpitracker.db import make_engine
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.state import state_subquery
from vpitracker.vocab import Role

RESULT_SCHEMA = 1
TOKEN_MINUTES = "720"  # long enough for a size-L run on one token


@dataclass(frozen=True)
class RunOptions:
    size: str
    db: DbKind
    out: Path | None
    n: int
    warmup: int
    budget_s: float
    seed: int
    chain_posts: int
    http_posts: int
    threads: int
    workers: int
    reuse_db: bool
    only: str | None = None
    memory: bool = True
    # Only the memory reports whose "<path>?format=<fmt>" matches this regex.
    memory_only: str | None = None


# Four callers at once stream the largest report (all status updates) in each format,
# then the commitments report (whose rows all wait for the derived state), then the
# recommendations report (its first batch read per row, the rest aggregated).
MEMORY_REPORTS = (
    ("/v1/reports/status-history", "json"),
    ("/v1/reports/status-history", "csv"),
    ("/v1/reports/commitments", "json"),
    ("/v1/reports/commitments", "csv"),
    ("/v1/reports/recommendations", "json"),
    ("/v1/reports/recommendations", "csv"),
)


def _log(message: str) -> None:
    typer.echo(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", err=True)


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def _facts(engine: Engine) -> dict[str, Any]:
    """What the timings need from the loaded data, and how its derived state is spread."""
    with engine.connect() as conn:
        busiest = conn.execute(
            text(
                "SELECT lead_ministry_id, count(*) FROM commitment WHERE archived_at IS NULL "
                "GROUP BY lead_ministry_id ORDER BY count(*) DESC, lead_ministry_id LIMIT 1"
            )
        ).one()
        open_ids = [
            int(r[0])
            for r in conn.execute(
                text("SELECT id FROM commitment WHERE archived_at IS NULL ORDER BY id")
            )
        ]
    return {
        "busiest_ministry_id": int(busiest[0]),
        "busiest_ministry_commitments": int(busiest[1]),
        "open_commitment_ids": open_ids,
        "derived_state": _derived_state(engine),
    }


def _derived_state(engine: Engine) -> dict[str, Any]:
    """Counts by derived field, with the app's own ``state_subquery`` (§4), as of now.

    The app is edited while runs happen; if its internals moved, say so and go on.
    """
    try:
        state = state_subquery(Clock.at(None, 90))
        spread: dict[str, Any] = {}
        with engine.connect() as conn:
            for column in ("reported_status", "verdict"):
                rows = conn.execute(
                    select(state.c[column], func.count()).group_by(state.c[column])
                ).all()
                spread[column] = {str(k): int(v) for k, v in sorted(rows)}
            for flag in ("overdue", "stale", "contested"):
                spread[flag] = int(
                    conn.execute(
                        select(func.count()).select_from(state).where(state.c[flag].is_(True))
                    ).scalar_one()
                )
    except Exception as exc:  # a figure for the record, never worth a failed run
        return {"error": f"{type(exc).__name__}: {exc}"}
    return spread


def _counts(engine: Engine) -> dict[str, int]:
    tables = (
        "ministry",
        "recommendation",
        "recommendation_provision",
        "commitment",
        "commitment_recommendation",
        "commitment_support",
        "status_update",
        "assessment",
        "user_account",
        "audit_event",
    )
    return {t: int(_scalar(engine, f"SELECT count(*) FROM {t}")) for t in tables}


def _secretariat_id(engine: Engine, env: dict[str, str]) -> int:
    """The bench's secretariat: created through the CLI, or (a reused database) given
    the current bench password, which an earlier version of the bench may not have used."""
    with engine.begin() as conn:
        existing = conn.execute(
            text("SELECT id FROM user_account WHERE email = :email"), {"email": SECRETARIAT_EMAIL}
        ).scalar()
        if existing is not None:
            conn.execute(
                text("UPDATE user_account SET password_hash = :hash WHERE id = :id"),
                {"hash": hash_password(SECRETARIAT_PASSWORD), "id": existing},
            )
    return int(existing) if existing is not None else create_secretariat(env)


def _verify(env: dict[str, str]) -> dict[str, Any]:
    """``vpitracker audit verify`` on the database the run wrote to: its JSON verdict.

    On a bench database it reports ``ok: false`` by construction: the generator loads
    rows without audit events, and verification names one of them (``entity_type``,
    ``entity_id``; ``first_bad_seq`` is the first event covering a later row of its
    kind, else the head plus one). What the run's concurrent writes could break is the
    chain itself: a broken chain is reported at the break (a ``detail`` that starts
    with ``event``: missing, altered or not linked).
    """
    done = subprocess.run(
        [sys.executable, "-m", "vpitracker", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    try:
        verdict: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "detail": (done.stderr or done.stdout)[-500:]}
    return verdict


def _prepare(opts: RunOptions, db: BenchDatabase, engine: Engine) -> dict[str, Any]:
    size = SIZES[opts.size]
    dataset: dict[str, Any] = {"size": asdict(size), "seed": opts.seed, "reused": opts.reuse_db}
    if opts.reuse_db:
        migrate.upgrade(engine)
        return dataset
    _log(f"creating a fresh {db.kind.value} database {db.name}")
    recreate(db)
    started = time.perf_counter()
    migrate.upgrade(engine)
    dataset["migrate_seconds"] = round(time.perf_counter() - started, 3)
    _log(f"loading size {size.name} (seed {opts.seed})")
    loaded = load(db, engine, size, opts.seed)
    dataset["load_seconds"] = round(loaded.seconds, 3)
    dataset["refresh_latest_seconds"] = (
        None if loaded.refresh_seconds is None else round(loaded.refresh_seconds, 3)
    )
    dataset["caught_up_seconds"] = (
        None if loaded.caught_up_seconds is None else round(loaded.caught_up_seconds, 3)
    )
    dataset["analyze_seconds"] = round(loaded.analyze_seconds, 3)
    dataset["rows_loaded"] = loaded.rows
    total = sum(v for k, v in loaded.rows.items() if "." not in k)
    dataset["rows_per_s"] = round(total / loaded.seconds)
    _log(f"loaded {total:,} rows in {loaded.seconds:.1f} s")
    return dataset


def _time_live(
    opts: RunOptions,
    db: BenchDatabase,
    app: InProcessApp,
    url: str,
    token: str,
    endpoints: list[api.ReadEndpoint],
    open_ids: list[int],
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Reads (each beside its raw replay), then HTTP posts; the POST's own capture last."""
    auth = {"Authorization": f"Bearer {token}"}

    def client() -> httpx.Client:
        return httpx.Client(base_url=url, headers=auth, timeout=api.HTTP_TIMEOUT)

    rows = []
    if opts.only:
        endpoints = [e for e in endpoints if re.search(opts.only, e.url)]
    with client() as http:
        for endpoint in endpoints:
            _log(f"GET {endpoint.url} x{opts.n}")
            rows.append(
                api.time_read(
                    endpoint,
                    http,
                    app,
                    db,
                    auth,
                    n=opts.n,
                    warmup=opts.warmup,
                    budget_s=opts.budget_s,
                )
            )
    _log(f"POST status-updates over HTTP: {opts.http_posts} sequential, {opts.threads} threads")
    posts = api.time_posts(
        client, open_ids, posts=opts.http_posts, threads=opts.threads, warmup=opts.warmup
    )
    body = {"status": "in_progress", "progress_percent": 50, "summary": "Captured."}
    post_capture = app.capture(
        "POST", f"/v1/commitments/{open_ids[0]}/status-updates", auth, body, warm=False
    )
    rows.append(api.post_endpoint_row(posts, len(post_capture.statements), post_capture.status))
    return rows, posts, [s.snippet(160) for s in post_capture.statements]


def run(opts: RunOptions) -> tuple[dict[str, Any], Path]:
    started_at = datetime.now(UTC)
    stem = f"{opts.size}-{opts.db.value}-{started_at:%Y%m%dT%H%M%SZ}"
    out = opts.out or RESULTS_DIR / f"{stem}.json"
    db = database_for(opts.db, opts.size)
    engine = make_engine(db.url)
    result: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "run": out.stem,
        "started_at": started_at.isoformat(),
        "size": opts.size,
        "db": opts.db.value,
        "database": db.name,
        "options": {
            "n": opts.n,
            "warmup": opts.warmup,
            "budget_s_per_endpoint": opts.budget_s,
            "chain_posts": opts.chain_posts,
            "http_posts": opts.http_posts,
            "threads": opts.threads,
            "server_workers": opts.workers,
        },
        "machine": describe(),
        "app": app_fingerprint(),
        "notes": [],
    }
    try:
        result["dataset"] = _prepare(opts, db, engine)
        env = server_env(db.url, new_secret_key())
        env["VPI_ACCESS_TOKEN_EXPIRE_MINUTES"] = TOKEN_MINUTES
        secretariat = _secretariat_id(engine, env)
        facts = _facts(engine)
        open_ids: list[int] = facts.pop("open_commitment_ids")
        result["dataset"].update(facts)
        result["dataset"]["counts_before_writes"] = _counts(engine)
        app = InProcessApp(db.url, env)
        try:
            endpoints, result["skipped"] = api.read_endpoints(
                app.paths(), facts["busiest_ministry_id"]
            )
            log_path = out.with_suffix(".server.log")
            _log(f"starting vpitracker serve (log: {log_path})")
            with serve(env, log_path, workers=opts.workers) as server:
                result["endpoints"], posts, result["post_statements"] = _time_live(
                    opts, db, app, server.url, server.token(), endpoints, open_ids
                )
                result["memory"] = [
                    memory.measure(
                        server.url, server.token(), server.process.pid, path=path, fmt=fmt
                    )
                    for path, fmt in (MEMORY_REPORTS if opts.memory else ())
                    if not opts.memory_only or re.search(opts.memory_only, f"{path}?format={fmt}")
                ]
        finally:
            app.close()
        _log(f"chain cost in-process: {opts.chain_posts} posts with and without the audit append")
        actor = Actor(kind="user", id=secretariat, role=Role.secretariat, email=SECRETARIAT_EMAIL)
        result["chain"] = {
            "in_process": chain.measure(db.url, actor, open_ids, posts=opts.chain_posts),
            "http": posts,
        }
        result["dataset"]["counts_after_writes"] = _counts(engine)
        _log("verifying the audit chain after the writes")
        result["chain_verify"] = _verify(env)
    finally:
        engine.dispose()
    result["machine"]["loadavg_at_end"] = loadavg()
    if app_fingerprint()["source_sha256_12"] != result["app"]["source_sha256_12"]:
        result["notes"].append(
            "src/ or migrations/ changed during the run; the processes kept the code they "
            "had imported at start (fingerprint above)"
        )
    result["finished_at"] = datetime.now(UTC).isoformat()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result, out


def run_and_report(opts: RunOptions) -> None:
    result, out = run(opts)
    typer.echo(render_run(result))
    _log(f"result written to {out}")
