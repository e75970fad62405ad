"""Server memory while several callers stream the largest report at once.

Each caller is its own API key (a caller may run only ``VPI_REPORT_STREAMS_PER_CALLER``
reports at once). The server's resident set (the serve process and its worker
children) is sampled every 20 ms from ``/proc`` while every stream is read to the end.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.machine import process_tree

MiB = 1024 * 1024
SAMPLE_SECONDS = 0.02


def resident_bytes(pid: int) -> int:
    """VmRSS of ``pid`` and its descendants."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            continue
    return total


def _stream(url: str, headers: dict[str, str], started: float) -> dict[str, Any]:
    size, first = 0, None
    with httpx.stream("GET", url, headers=headers, timeout=600) as r:
        status = r.status_code
        for chunk in r.iter_raw():
            if first is None:
                first = time.monotonic() - started
            size += len(chunk)
    return {
        "status": status,
        "bytes": size,
        "first_byte_s": first,
        "seconds": time.monotonic() - started,
    }


def measure(
    base_url: str, token: str, pid: int, *, path: str, fmt: str, parallel: int = 4
) -> dict[str, Any]:
    """``parallel`` callers stream ``path`` at once; RSS before, peak and growth."""
    auth = {"Authorization": f"Bearer {token}"}
    keys = []
    for i in range(parallel):
        r = httpx.post(f"{base_url}/v1/api-keys", json={"name": f"bench-{i}"}, headers=auth)
        r.raise_for_status()
        keys.append({"X-API-Key": str(r.json()["key"])})
    url = f"{base_url}{path}{'&' if '?' in path else '?'}format={fmt}"
    before = resident_bytes(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, resident_bytes(pid))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(parallel) as pool:
            streams = list(pool.map(lambda h: _stream(url, h, started), keys))
    finally:
        done.set()
        sampler.join()
    return {
        "path": path,
        "format": fmt,
        "parallel": parallel,
        "statuses": sorted({s["status"] for s in streams}),
        "bytes_each": max(s["bytes"] for s in streams),
        "first_byte_s_max": max((s["first_byte_s"] or 0.0) for s in streams),
        "seconds_max": max(s["seconds"] for s in streams),
        "rss_before_mib": before / MiB,
        "rss_peak_mib": peak / MiB,
        "rss_growth_mib": (peak - before) / MiB,
    }
