"""What committing before the response costs (issue 9): ``python -m bench.commit_boundary``.

Two real ``vpitracker serve`` processes on one fresh size-S database: "after" is the
app as it is (the session dependency has ``scope="function"``, so the commit runs
before the response starts); "before" is the same app started through this module's
``late`` launcher, which puts back the old ``Depends(get_session)`` (FastAPI's default
scope, whose cleanup — the commit — runs once the response has been sent) before any
router is imported. Nothing else differs. One client per server alternates one
request to each, so machine noise falls on both alike: ``GET /v1/me`` and a
sequential ``POST /v1/commitments/{id}/status-updates``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from bench.databases import RESULTS_DIR, DbKind, database_for, recreate
from bench.datagen import load
from bench.server import create_secretariat, new_secret_key, serve, server_env
from bench.sizes import SIZES
from bench.stats import summary_ms
from vpitracker import migrate
from vpitracker.db import make_engine

MODES = ("commit_after_response_old", "commit_before_response_now")


def late() -> None:
    """``vpitracker`` with the old session dependency: commit after the response."""
    from fastapi import Depends
    from sqlmodel import Session

    from vpitracker import deps
    from vpitracker.deps import callers, session

    old = Annotated[Session, Depends(deps.get_session)]
    old_read_first = Annotated[Session, Depends(deps.get_read_first_session)]
    # The routers read them at import; the deps modules when FastAPI reads their signatures.
    for module in (deps, session, callers):
        setattr(module, "SessionDep", old)  # noqa: B010
        setattr(module, "ReadFirstSessionDep", old_read_first)  # noqa: B010
    from vpitracker.cli import app as cli_app

    cli_app()


def _body(i: int) -> dict[str, Any]:
    return {"status": "in_progress", "progress_percent": i % 90, "summary": f"Bench post {i}"}


def main(
    db: Annotated[DbKind, typer.Option(help="sqlite or postgres")] = DbKind.postgres,
    n: Annotated[int, typer.Option(min=5, help="Requests per kind and mode")] = 300,
) -> None:
    """Print p50/p95 of both kinds of request in both modes, as Markdown."""
    target = database_for(db, "commit")
    recreate(target)
    engine = make_engine(target.url)
    migrate.upgrade(engine)
    load(target, engine, SIZES["S"], 20261129)
    engine.dispose()
    env = server_env(target.url, new_secret_key())
    create_secretariat(env)
    spent: dict[str, dict[str, list[float]]] = {m: {"me": [], "post": []} for m in MODES}
    logs = Path(RESULTS_DIR)
    with (
        serve(env, logs / "commit-late.server.log", launcher="bench.commit_boundary") as old,
        serve(env, logs / "commit-now.server.log") as now,
    ):
        clients = {}
        for mode, server in zip(MODES, (old, now), strict=True):
            clients[mode] = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.token()}"}
            )
        ids = [c["id"] for c in clients[MODES[1]].get("/v1/commitments?limit=50").json()["items"]]
        for i in range(n + 10):
            for mode in MODES if i % 2 == 0 else MODES[::-1]:
                client = clients[mode]
                t0 = time.perf_counter()
                client.get("/v1/me").raise_for_status()
                t1 = time.perf_counter()
                r = client.post(
                    f"/v1/commitments/{ids[i % len(ids)]}/status-updates", json=_body(i)
                )
                t2 = time.perf_counter()
                assert r.status_code == 201, r.text
                if i >= 10:  # warm-up
                    spent[mode]["me"].append(t1 - t0)
                    spent[mode]["post"].append(t2 - t1)
        for client in clients.values():
            client.close()
    typer.echo(f"| {db.value} | `GET /v1/me` p50 / p95 ms | POST status update p50 / p95 ms |")
    typer.echo("|---|---|---|")
    for mode in MODES:
        me, post = summary_ms(spent[mode]["me"]), summary_ms(spent[mode]["post"])
        typer.echo(
            f"| {mode} | {me['p50_ms']} / {me['p95_ms']} | {post['p50_ms']} / {post['p95_ms']} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["late"]:
        sys.argv.pop(1)
        late()
    else:
        typer.run(main)
