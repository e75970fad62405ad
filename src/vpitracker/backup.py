"""Consistent backups while the server runs.

SQLite: the sqlite3 online backup API copies a snapshot page by page under a read
transaction (WAL lets writers go on); the copy is switched to a single-file journal,
so the backup file is itself a complete database. PostgreSQL: ``pg_dump
--format=custom`` (one snapshot), restored with ``pg_restore``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from vpitracker.db import normalize_url


class BackupError(Exception):
    """The backup could not be made; the message says why and what to do."""


def backup(
    database_url: str,
    out: Path,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a backup of ``database_url`` to ``out`` (atomically: all or nothing)."""
    if out.exists() and not overwrite:
        raise BackupError(f"{out} already exists; choose another name or pass --force")
    if out.is_dir():
        raise BackupError(f"{out} is a directory; name the backup file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    url = normalize_url(database_url)
    try:
        if url.startswith("sqlite"):
            _sqlite(url, partial, progress)
        elif url.startswith("postgresql"):
            _postgres(url, partial)
        else:
            raise BackupError(f"cannot back up a {url.split(':', 1)[0]} database")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _pages(progress: Callable[[int, int], None] | None) -> Callable[[int, int, int], None] | None:
    """sqlite3's backup callback (status, remaining, total) as (done, total)."""
    if progress is None:
        return None
    report = progress
    return lambda _status, remaining, total: report(total - remaining, total)


def _sqlite(url: str, target: Path, progress: Callable[[int, int], None] | None) -> None:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    source_path = Path(database)
    if not source_path.is_file():
        raise BackupError(f"no SQLite database at {source_path}")
    try:
        with (
            closing(sqlite3.connect(source_path)) as src,
            closing(sqlite3.connect(target)) as dst,
        ):
            src.execute("PRAGMA busy_timeout=30000")
            src.backup(dst, pages=256, progress=_pages(progress))
            # The copy keeps the source's WAL flag; make it one self-contained file.
            dst.execute("PRAGMA journal_mode=DELETE")
            (check,) = dst.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from exc


def _postgres(url: str, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not installed or not on PATH; install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client) of the server's major version"
        )
    parsed = make_url(url)
    # libpq reads the password from the environment, so it never shows in `ps`.
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    dsn = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run(
        [pg_dump, "--format=custom", "--no-password", f"--file={target}", f"--dbname={dsn}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
