"""Outbox cost (issue 13): a status-update post with and without its outbox row.

``python -m bench.outbox --db sqlite|postgres [--posts 400]`` makes a fresh small
database, then posts status updates in-process (one transaction each, through
``vpitracker.db.unit_of_work`` and ``vpitracker.reporting.service.post_update``, as
the POST does). "Without" replaces ``vpitracker.outbox.service.prepare``
with a no-op; the two modes alternate in ten rounds, swapping which goes first.
Loopback only; results go to stdout as Markdown.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import text

from bench.stats import summary_ms
from vpitracker import migrate
from vpitracker.db import make_engine, unit_of_work
from vpitracker.kernel.actor import Actor
from vpitracker.models import Commitment, Ministry, User, utcnow
from vpitracker.outbox import service as outbox
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import StatusUpdateCreate
from vpitracker.vocab import ReportedStatus, Role

WITH, WITHOUT = "with_outbox", "without_outbox"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_NAME = "vpi_bench_outbox"


@contextmanager
def outbox_disabled() -> Iterator[None]:
    original = outbox.prepare
    outbox.prepare = lambda *_a, **_k: None
    try:
        yield
    finally:
        outbox.prepare = original


def fresh_database(db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='vpi-bench-outbox-')) / 'bench.db'}"
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_NAME}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}"


def measure(url: str, *, posts: int, rounds: int = 10, warmup: int = 20) -> dict[str, Any]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        ministry = Ministry(code="MOI", name="Ministry of Interior", kind="ministry")
        user = User(email="bench@example.org", full_name="Bench", role="secretariat",
                    password_hash="x")  # fmt: skip
        session.add_all([ministry, user])
        session.flush()
        assert ministry.id is not None
        commitments = [
            Commitment(
                code=f"B-{i}",
                title="Bench",
                description="Bench",
                lead_ministry_id=ministry.id,
                committed_on=utcnow().date(),
                due_date=utcnow().date(),
                indicator="Bench",
            )
            for i in range(20)
        ]
        session.add_all(commitments)
        session.flush()
        ids = [c.id for c in commitments if c.id is not None]
        assert user.id is not None
        actor = Actor(kind="user", id=user.id, role=Role.secretariat, email=user.email,
                      ministry_ids=frozenset())  # fmt: skip
    counter = 0

    def block(mode: str, count: int) -> list[float]:
        nonlocal counter
        times = []
        for _ in range(count):
            body = StatusUpdateCreate(
                status=ReportedStatus.in_progress,
                progress_percent=counter % 90,
                summary=f"Post {counter}",
            )
            cid = ids[counter % len(ids)]
            counter += 1
            t0 = time.perf_counter()
            if mode == WITH:
                with unit_of_work(engine) as session:
                    reporting_service.post_update(session, actor, cid, body)
            else:
                with outbox_disabled(), unit_of_work(engine) as session:
                    reporting_service.post_update(session, actor, cid, body)
            times.append(time.perf_counter() - t0)
        return times

    try:
        block(WITH, warmup)
        block(WITHOUT, warmup)
        samples: dict[str, list[float]] = {WITH: [], WITHOUT: []}
        for r in range(rounds):
            for mode in (WITH, WITHOUT) if r % 2 == 0 else (WITHOUT, WITH):
                samples[mode].extend(block(mode, max(1, posts // rounds)))
    finally:
        engine.dispose()
    out: dict[str, Any] = {m: summary_ms(t) | {"posts_per_s": round(len(t) / sum(t), 1)}
                           for m, t in samples.items()}  # fmt: skip
    out["added_ms_per_post_p50"] = round(out[WITH]["p50_ms"] - out[WITHOUT]["p50_ms"], 3)
    return out


def main(
    db: Annotated[str, typer.Option(help="sqlite or postgres")] = "sqlite",
    posts: Annotated[int, typer.Option(min=10, help="Posts per mode")] = 400,
) -> None:
    """Print the with/without table for one run."""
    result = measure(fresh_database(db), posts=posts)
    typer.echo(f"| {db} | posts/s | p50 ms | p95 ms |\n|---|---|---|---|")
    for mode in (WITH, WITHOUT):
        r = result[mode]
        typer.echo(f"| {mode} | {r['posts_per_s']} | {r['p50_ms']} | {r['p95_ms']} |")
    typer.echo(f"\nadded per post (p50): {result['added_ms_per_post_p50']} ms")


if __name__ == "__main__":
    typer.run(main)
