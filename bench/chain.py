"""Chain cost (issue 3): status-update posts per second with and without the audit append.

In-process, one transaction per post through ``vpitracker.db.unit_of_work`` and
``vpitracker.reporting.service.post_update``. "Without" replaces
``vpitracker.audit.service.record`` and ``record_at_commit`` with no-ops for the duration
of its blocks and restores them afterwards. The two modes alternate in ten rounds (and
swap which goes first), so drift over the run (WAL growth, cache warmth) falls on both
equally.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench.stats import summary_ms
from vpitracker.audit import service as audit_service
from vpitracker.db import make_engine, unit_of_work
from vpitracker.kernel.actor import Actor
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import StatusUpdateCreate
from vpitracker.vocab import ReportedStatus

WITH, WITHOUT = "with_audit", "without_audit"


def _no_record(*_args: Any, **_kwargs: Any) -> None:
    return None


_APPENDS = ("record", "record_at_commit")


@contextmanager
def _replaced(make: Any) -> Iterator[None]:
    """Both appends (``record``, and ``record_at_commit``, which posts use) replaced."""
    originals = {name: getattr(audit_service, name) for name in _APPENDS}
    for name, original in originals.items():
        setattr(audit_service, name, make(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(audit_service, name, original)


@contextmanager
def audit_timed(spent: list[float]) -> Iterator[None]:
    """The appends as they are, each call's own time appended to ``spent`` (lock, head,
    hash, insert, flush; on PostgreSQL a post's append is made by its commit, outside)."""

    def make(original: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t0)

        return timed

    with _replaced(make):
        yield


@contextmanager
def audit_disabled() -> Iterator[None]:
    with _replaced(lambda _original: _no_record):
        yield


def measure(
    database_url: str,
    actor: Actor,
    commitment_ids: Sequence[int],
    *,
    posts: int,
    rounds: int = 10,
    warmup: int = 20,
) -> dict[str, Any]:
    engine = make_engine(database_url)
    counter = 0

    def post_block(count: int) -> list[float]:
        nonlocal counter
        times = []
        for _ in range(count):
            cid = commitment_ids[counter % len(commitment_ids)]
            body = StatusUpdateCreate(
                status=ReportedStatus.in_progress,
                progress_percent=10 + counter % 80,
                summary=f"Chain-cost post {counter}: work continues as planned.",
            )
            counter += 1
            t0 = time.perf_counter()
            with unit_of_work(engine) as session:
                reporting_service.post_update(session, actor, cid, body)
            times.append(time.perf_counter() - t0)
        return times

    record_times: list[float] = []

    def block(mode: str, count: int) -> list[float]:
        if mode == WITH:
            with audit_timed(record_times):
                return post_block(count)
        with audit_disabled():
            return post_block(count)

    try:
        block(WITH, warmup)
        block(WITHOUT, warmup)
        record_times.clear()
        samples: dict[str, list[float]] = {WITH: [], WITHOUT: []}
        per_round = max(1, posts // rounds)
        for r in range(rounds):
            order = (WITH, WITHOUT) if r % 2 == 0 else (WITHOUT, WITH)
            for mode in order:
                samples[mode].extend(block(mode, per_round))
    finally:
        engine.dispose()
    out: dict[str, Any] = {"rounds": rounds, "warmup_per_mode": warmup}
    for mode, times in samples.items():
        total = sum(times)
        out[mode] = {
            "posts": len(times),
            "seconds": round(total, 3),
            "posts_per_s": round(len(times) / total, 1),
            "latency": summary_ms(times),
        }
    # Time inside audit.record itself; the rest of the difference is commit-time work
    # (more pages: audit_event and its three indexes) and noise.
    out[WITH]["record_call"] = summary_ms(record_times)
    out["ratio_with_over_without"] = round(
        out[WITH]["posts_per_s"] / out[WITHOUT]["posts_per_s"], 3
    )
    out["added_ms_per_post_p50"] = round(
        out[WITH]["latency"]["p50_ms"] - out[WITHOUT]["latency"]["p50_ms"], 3
    )
    return out
