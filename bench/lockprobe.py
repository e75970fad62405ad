"""The chain lock as a served post holds it: ``python -m bench.lockprobe late serve …``.

``bench writes`` starts each server through this launcher (``bench.server.serve``'s
``launcher``). With ``VPI_BENCH_LOCK_PROBE`` naming a file, importing this module adds
listeners to every SQLAlchemy engine of the process and times each post's chain lock:

- ``wait``: the ``audit_chain_head`` call (the wait, the head's read, the thread's
  return to the GIL);
- ``held``: from its return to the COMMIT being sent;
- ``commit``: the COMMIT's round trip (its WAL flush), after which the lock is free;
- ``handoff`` (computed by ``read``): from one post's commit returning to the return of
  the next post's call, when that post was already waiting: the lock passing to the
  next backend, its head read and its thread taking the GIL back. Counted only when the
  next call returns after the commit did: a committing thread slow to take the GIL back
  hides its pair, so the figure leans low.

A post whose append is sent with its COMMIT (``audit_append``, PostgreSQL) is one call:
``wait`` runs to the time the server took under the lock (the call's first row,
``event_at``: the wait, the head's read, no return to Python), ``held`` is 0 and
``commit`` the rest (the hash, the inserts, the counts, the WAL flush, the answer's return
to the thread and the GIL). ``handoff`` then runs from one post's call returning to the
next post's grant, so it can be negative: the next backend may hold the lock before the
first thread has its answer.

Every time is taken in Python, so each includes a thread's return to the GIL.

One line per commit: ``<asked> <granted> <commit sent> <commit done>`` (unix times).
Worker processes of ``serve --workers N`` import this module again as ``__mp_main__``
(multiprocessing's spawn), so they are probed too. The lines are written by a thread
every 0.2 s: the server must run a moment after the last post.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

PROBE_ENV = "VPI_BENCH_LOCK_PROBE"
# The statement of PostgreSQL's append at the commit (``audit.service.record_at_commit``).
_APPEND = "FROM audit_append("
FLUSH_SECONDS = 0.2


def _install(path: str) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.default import DefaultDialect

    pending: list[tuple[float, float, float, float]] = []
    local = threading.local()
    original_commit: Callable[[DefaultDialect, Any], None] = DefaultDialect.do_commit

    def before(conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "audit_chain_head" in statement or _APPEND in statement:
            conn.info["probe_asked"] = time.time()

    def after(conn: Any, cursor: Any, statement: str, *_rest: Any) -> None:
        if "audit_chain_head" in statement:
            conn.info["probe_granted"] = time.time()
        elif _APPEND in statement:
            # The append sent with its COMMIT: granted when the server took the time
            # under the lock (the first row's event_at); the COMMIT went with the call.
            done = time.time()
            row = cursor.fetchone()
            cursor.scroll(0, mode="absolute")  # the row is still the caller's to read
            asked = conn.info.pop("probe_asked", None)
            if row is not None and asked is not None:
                granted = row[2].timestamp()
                pending.append((asked, granted, granted, done))

    def commit(conn: Any) -> None:
        granted = conn.info.pop("probe_granted", None)
        asked = conn.info.pop("probe_asked", None)
        if granted is not None and asked is not None:
            local.open = (asked, granted, time.time())

    def do_commit(self: DefaultDialect, dbapi_connection: Any) -> None:
        original_commit(self, dbapi_connection)
        opened = getattr(local, "open", None)
        if opened is not None:
            local.open = None
            pending.append((*opened, time.time()))

    def flush() -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            taken = pending[: len(pending)]
            del pending[: len(taken)]
            if taken:
                with open(path, "a") as out:
                    out.writelines(" ".join(f"{t:.6f}" for t in row) + "\n" for row in taken)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "commit", commit)
    DefaultDialect.do_commit = do_commit  # type: ignore[method-assign]
    threading.Thread(target=flush, daemon=True, name="lockprobe").start()


if os.environ.get(PROBE_ENV):
    _install(os.environ[PROBE_ENV])


def read(path: str, start: float, end: float) -> dict[str, list[float]]:
    """Per commit sent between ``start`` and ``end``: wait, held, commit, handoff and
    cycle (s)."""
    rows: list[tuple[float, ...]] = []
    if os.path.exists(path):
        with open(path) as lines:
            rows = sorted(tuple(map(float, line.split())) for line in lines)
    rows = [r for r in rows if start <= r[2] < end]
    by_grant = sorted(rows, key=lambda r: r[1])
    handoff = [
        nxt[1] - prev[3]
        for prev, nxt in itertools.pairwise(by_grant)
        if nxt[0] < prev[3] <= nxt[1]  # it was waiting when the lock came free
    ]
    # Grant to grant while the next post was already waiting: the lock's whole cycle per
    # post under contention, however its parts fall between Python and the server.
    cycle = [nxt[1] - prev[1] for prev, nxt in itertools.pairwise(by_grant) if nxt[0] < prev[1]]
    return {
        "cycle": cycle,
        "wait": [r[1] - r[0] for r in rows],
        "held": [r[2] - r[1] for r in rows],
        "commit": [r[3] - r[2] for r in rows],
        "handoff": handoff,
    }


def late() -> None:
    """``vpitracker`` itself (this module's import has probed it)."""
    from vpitracker.cli import app as cli_app

    cli_app()


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["late"]:
        sys.argv.pop(1)
    late()
