"""The machine a run happened on, read at run time."""

from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.databases import postgres_version

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "sqlmodel", "psycopg", "pydantic", "httpx")


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                out[key] = int(rest.split()[0])  # kB
    except OSError:
        pass
    return out


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews every timing."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a ``serve --workers N`` supervisor and its workers)."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
        out.append(p)
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` and its descendants have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            # After the parenthesised command name: utime and stime are fields 14 and 15.
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def describe() -> dict[str, Any]:
    mem = _meminfo()
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        # What `nproc` prints: the CPUs this process may run on.
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "mem_total_gib": round(mem.get("MemTotal", 0) / 1024 / 1024, 1),
        "mem_available_gib": round(mem.get("MemAvailable", 0) / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "packages": versions,
        "loadavg_at_start": loadavg(),
    }


def app_fingerprint() -> dict[str, Any]:
    """Which code was measured: others edit src/ while runs happen, so runs name it."""
    digest = hashlib.sha256()
    files = sorted(
        [*(REPO / "src" / "vpitracker").rglob("*.py"), *(REPO / "migrations").rglob("*.py")]
    )
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return {
        "source_sha256_12": digest.hexdigest()[:12],
        "files": len(files),
        "migrations": sorted(p.name for p in (REPO / "migrations" / "versions").glob("*.py")),
    }
