"""The chain lock as a served post holds it: ``python -m bench.lockprobe late serve …``.

``bench writes`` starts each server through this launcher (``bench.server.serve``'s
``launcher``). With ``VPI_BENCH_LOCK_PROBE`` naming a file, importing this module adds
two listeners to every SQLAlchemy engine of the process: when ``audit_chain_head``
returns (the lock granted; the call's duration is the wait plus the head's read) and
when the COMMIT is sent, and appends ``<unix time> <wait ms> <held ms>`` per commit to
the file (``held``: from the grant to the COMMIT sent; the commit itself, the same in
any code, comes on top). Worker processes of ``serve --workers N`` import this module
again as ``__mp_main__`` (multiprocessing's spawn), so they are probed too. The lines
are written by a thread every 0.2 s: the server must run a moment after the last post.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

PROBE_ENV = "VPI_BENCH_LOCK_PROBE"
FLUSH_SECONDS = 0.2


def _install(path: str) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    pending: list[tuple[float, float, float]] = []

    def before(conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "audit_chain_head" in statement:
            conn.info["probe_asked"] = time.perf_counter()

    def after(conn: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if "audit_chain_head" in statement:
            conn.info["probe_granted"] = time.perf_counter()

    def commit(conn: Any) -> None:
        granted = conn.info.pop("probe_granted", None)
        asked = conn.info.pop("probe_asked", None)
        if granted is not None and asked is not None:
            pending.append((time.time(), granted - asked, time.perf_counter() - granted))

    def flush() -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            taken = pending[: len(pending)]
            del pending[: len(taken)]
            if taken:
                with open(path, "a") as out:
                    out.writelines(f"{t:.4f} {w * 1000:.3f} {h * 1000:.3f}\n" for t, w, h in taken)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "commit", commit)
    threading.Thread(target=flush, daemon=True, name="lockprobe").start()


if os.environ.get(PROBE_ENV):
    _install(os.environ[PROBE_ENV])


def read(path: str, start: float, end: float) -> tuple[list[float], list[float]]:
    """The waits and held times (ms) of the commits sent between ``start`` and ``end``."""
    waits: list[float] = []
    held: list[float] = []
    if not os.path.exists(path):
        return waits, held
    with open(path) as lines:
        for line in lines:
            t, w, h = map(float, line.split())
            if start <= t < end:
                waits.append(w)
                held.append(h)
    return waits, held


def late() -> None:
    """``vpitracker`` itself (this module's import has probed it)."""
    from vpitracker.cli import app as cli_app

    cli_app()


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["late"]:
        sys.argv.pop(1)
    late()
