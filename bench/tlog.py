"""The verifiable log at scale: ``python -m bench.tlog --events 1000000`` (PostgreSQL).

1. Bulk-loads EVENTS audit events into a fresh database with COPY: each event's hash is
   computed by the application's own ``compute_hash`` over the previous one, and the
   Merkle nodes by ``vpitracker.audit.merkle.build`` — the rows the app would have written.
2. Starts a real ``vpitracker serve`` and times, over HTTP with one keep-alive client,
   the checkpoint (signing included), inclusion proofs of random events in the full tree
   and consistency proofs from random earlier sizes; a sample of each is verified.
3. Times appends in-process, alternating rounds: ``audit.service.record`` plus commit as
   the app does it ("with tree"), and the same with the tree append switched off
   ("chain only"); each chain-only event gets its nodes right after, untimed, so the
   tree stays whole for the next append.

It prints one JSON document (and writes it with --out); the load average is read before
and after each phase, as the CPU is shared.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import httpx
import psycopg
import typer

from bench.databases import DbKind, database_for, recreate
from bench.server import cli, create_secretariat, new_secret_key, serve, server_env
from bench.stats import summary_ms
from vpitracker import migrate
from vpitracker.audit import merkle, note, transparency
from vpitracker.audit import repository as audit_repository
from vpitracker.audit import service as audit_service
from vpitracker.db import make_engine, unit_of_work
from vpitracker.jsonutil import canonical
from vpitracker.models import AuditEvent
from vpitracker.vocab import EntityType

app = typer.Typer(help=__doc__, no_args_is_help=False, pretty_exceptions_enable=False)
ORIGIN = "bench.vpitracker.example/audit"
ACTIONS = (
    ("status_update", "status_update.posted"),
    ("assessment", "assessment.recorded"),
    ("commitment", "commitment.updated"),
)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class _Row:
    """The fields ``compute_hash`` reads, without building a table model per event."""

    seq: int
    at: datetime
    actor_type: str
    actor_id: int | None
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str
    data: str


def _events(n: int, seed: int) -> Iterator[tuple[_Row, str, str]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    prev = audit_service.GENESIS_HASH
    for seq in range(1, n + 1):
        entity_type, action = ACTIONS[seq % len(ACTIONS)]
        data = {"commitment_id": rng.randrange(1, 5000), "progress_percent": rng.randrange(101)}
        row = _Row(
            seq=seq,
            at=start + timedelta(seconds=seq * 7),
            actor_type="user",
            actor_id=rng.randrange(1, 300),
            actor_role="government_officer",
            action=action,
            entity_type=entity_type,
            entity_id=str(seq),
            data=canonical(data),
        )
        h = audit_service.compute_hash(prev, cast(AuditEvent, row))
        yield row, prev, h
        prev = h


def bulk_load(conninfo: str, n: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    hashes: list[str] = []
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        columns = "seq, at, actor_type, actor_id, actor_role, action, entity_type, "
        columns += "entity_id, data, prev_hash, hash"
        with cur.copy(f"COPY audit_event ({columns}) FROM STDIN") as copy:
            for row, prev, h in _events(n, seed):
                copy.write_row((
                    row.seq, row.at, row.actor_type, row.actor_id, row.actor_role, row.action,
                    row.entity_type, row.entity_id, row.data, prev, h,
                ))  # fmt: skip
                hashes.append(h)
        t1 = time.perf_counter()
        nodes = 0
        with cur.copy("COPY merkle_node (level, idx, hash) FROM STDIN") as copy:
            for node in merkle.build(hashes):
                copy.write_row(node)
                nodes += 1
        conn.commit()
        t2 = time.perf_counter()
        cur.execute("ANALYZE audit_event")
        cur.execute("ANALYZE merkle_node")
        conn.commit()
    leaves = [merkle.leaf_hash(h) for h in hashes]
    return {
        "events": n,
        "merkle_nodes": nodes,
        "events_copy_s": round(t1 - t0, 1),
        "nodes_build_copy_s": round(t2 - t1, 1),
        "root": base64.b64encode(_root(leaves)).decode(),
    }


def _root(leaves: list[bytes]) -> bytes:
    """The root by the RFC's recursive definition (a check of the loaded tree)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_root(leaves[:k]), _root(leaves[k:]))


def _timed(client: httpx.Client, path: str, params: dict[str, int] | None = None) -> float:
    t0 = time.perf_counter()
    r = client.get(path, params=params)
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    return elapsed


def http_reads(url: str, token: str, samples: int, vkey: str) -> dict[str, Any]:
    """Each round asks every endpoint once, so a burst of load falls on all of them alike."""
    rng = random.Random(7)
    verifier = note.parse_verifier(vkey)
    spent: dict[str, list[float]] = {
        "healthz_baseline": [], "me_baseline": [], "checkpoint": [], "inclusion": [],
        "consistency": [],
    }  # fmt: skip
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        checkpoint = note.verify_checkpoint(client.get("/v1/audit/checkpoint").text, verifier)
        size = checkpoint.size
        for _ in range(10):  # warm-up: connection, caches
            client.get("/v1/audit/checkpoint")
        for _ in range(samples):
            # The floor on this machine: a route that reads nothing.
            spent["healthz_baseline"].append(_timed(client, "/healthz"))
            # Any signed-in read: token check and one small query.
            spent["me_baseline"].append(_timed(client, "/v1/me"))
            spent["checkpoint"].append(_timed(client, "/v1/audit/checkpoint"))
            params = {"seq": rng.randrange(1, size + 1), "tree_size": size}
            spent["inclusion"].append(_timed(client, "/v1/audit/proof/inclusion", params))
            params = {"first": rng.randrange(1, size), "second": size}
            spent["consistency"].append(_timed(client, "/v1/audit/proof/consistency", params))
        # The answers are right, not only quick.
        for s in [rng.randrange(1, size + 1) for _ in range(20)]:
            body = client.get("/v1/audit/proof/inclusion", params={"seq": s, "tree_size": size})
            event = client.get(f"/v1/audit/events/{s}").json()
            path = [base64.b64decode(h) for h in body.json()["hashes"]]
            leaf = merkle.leaf_hash(event["hash"])
            assert merkle.verify_inclusion(s - 1, size, leaf, path, checkpoint.root), s
    out: dict[str, Any] = {name: summary_ms(values) for name, values in spent.items()}
    out["checkpoint_root"] = base64.b64encode(checkpoint.root).decode()
    out["checkpoint_size"] = checkpoint.size
    return out


def appends(database_url: str, rounds: int, per_round: int) -> dict[str, Any]:
    engine = make_engine(database_url)
    original = transparency.leaf_nodes
    spent: dict[str, list[float]] = {"with_tree": [], "chain_only": []}

    def write(mode: str) -> None:
        t0 = time.perf_counter()
        with unit_of_work(engine) as session:
            event = audit_service.record(
                session, None, "ministry.updated", EntityType.ministry, 1, {"bench": mode}
            )
        spent[mode].append(time.perf_counter() - t0)
        if mode == "chain_only":
            with unit_of_work(engine) as session:
                audit_repository.add_merkle_nodes(
                    session, original(session, event.seq - 1, event.hash)
                )

    try:
        for r in range(rounds):
            modes = ["with_tree", "chain_only"] if r % 2 == 0 else ["chain_only", "with_tree"]
            for mode in modes:
                transparency.leaf_nodes = original if mode == "with_tree" else _no_tree
                for _ in range(per_round):
                    write(mode)
    finally:
        transparency.leaf_nodes = original
        engine.dispose()
    result = {mode: summary_ms(samples) for mode, samples in spent.items()}
    result["p50_delta_ms"] = round(
        result["with_tree"]["p50_ms"] - result["chain_only"]["p50_ms"], 3
    )
    return result


def _no_tree(*_args: Any, **_kwargs: Any) -> list[tuple[int, int, bytes]]:
    return []


@app.command()
def main(
    events: Annotated[int, typer.Option(min=2, help="Audit events to bulk-load")] = 1_000_000,
    samples: Annotated[int, typer.Option(min=5, help="Timed HTTP requests per endpoint")] = 300,
    rounds: Annotated[int, typer.Option(min=2, help="Alternating append rounds")] = 10,
    per_round: Annotated[int, typer.Option(min=1, help="Appends per round and mode")] = 50,
    seed: Annotated[int, typer.Option(help="Data seed")] = 20261202,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON here")] = None,
    reuse_db: Annotated[
        bool, typer.Option(help="Time the database an earlier run loaded (no fresh load)")
    ] = False,
) -> None:
    """Load EVENTS events on PostgreSQL, then time proofs, checkpoints and appends."""
    db = database_for(DbKind.postgres, "tlog")
    result: dict[str, Any] = {"database": "postgresql", "load_average": {}}
    result["load_average"]["start"] = load_average()
    env = server_env(db.url, new_secret_key())
    if not reuse_db:
        recreate(db)
        engine = make_engine(db.url)
        migrate.upgrade(engine)
        engine.dispose()
        result["load"] = bulk_load(db.pg_conninfo, events, seed)
        result["load_average"]["after_load"] = load_average()
        create_secretariat(env)
    signer = note.generate(ORIGIN)
    env.update({"VPI_LOG_ORIGIN": ORIGIN, "VPI_LOG_SIGNING_KEY": signer.encode()})
    cli(env, "db", "upgrade")
    log = Path(__file__).resolve().parent / "results" / "tlog-server.log"
    with serve(env, log) as server:
        reads = http_reads(server.url, server.token(), samples, signer.verifier().encode())
    result["http"] = reads
    result["load_average"]["after_http"] = load_average()
    result["appends"] = appends(db.url, rounds, per_round)
    result["load_average"]["after_appends"] = load_average()
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    typer.echo(text)


if __name__ == "__main__":
    app()
