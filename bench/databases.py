"""Fresh benchmark databases (SQLite file or local PostgreSQL) and raw driver connections."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Loopback only: the benchmark never talks to another host.
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


class DbKind(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


@dataclass(frozen=True)
class BenchDatabase:
    kind: DbKind
    name: str
    # SQLAlchemy URL, as VPI_DATABASE_URL takes it.
    url: str
    sqlite_path: Path | None = None

    @property
    def pg_conninfo(self) -> str:
        return pg_conninfo(self.name)

    def raw_connect(self, *, any_thread: bool = False) -> Any:
        """A plain DBAPI connection (sqlite3 / psycopg), configured as the app's engine is;
        ``any_thread``: a pool's, used by one thread at a time but not always the same."""
        if self.kind is DbKind.sqlite:
            assert self.sqlite_path is not None
            conn = sqlite3.connect(
                self.sqlite_path, isolation_level=None, timeout=30, check_same_thread=not any_thread
            )
            # The same per-connection pragmas as vpitracker.db's SQLite recipe.
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        return psycopg.connect(self.pg_conninfo)


def pg_conninfo(dbname: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname} connect_timeout=5"


# Several checkouts on one PostgreSQL server each keep their own bench databases:
# VPI_BENCH_DB_SUFFIX=x names them vpi_bench_<size>_x.
SUFFIX_ENV = "VPI_BENCH_DB_SUFFIX"


def database_for(kind: DbKind, size_name: str) -> BenchDatabase:
    suffix = os.environ.get(SUFFIX_ENV, "").strip().lower()
    if suffix and not suffix.replace("_", "").isalnum():
        raise ValueError(f"{SUFFIX_ENV} takes letters, digits and underscores")
    name = f"vpi_bench_{size_name.lower()}" + (f"_{suffix}" if suffix else "")
    if kind is DbKind.sqlite:
        path = RESULTS_DIR / f"{name}.db"
        return BenchDatabase(kind, name, f"sqlite:///{path}", sqlite_path=path)
    return BenchDatabase(kind, name, f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}")


def recreate(db: BenchDatabase) -> None:
    """Drop and create the database, empty."""
    if db.kind is DbKind.sqlite:
        assert db.sqlite_path is not None
        db.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db.sqlite_path}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(pg_conninfo("postgres"), autocommit=True) as conn:
        ident = sql.Identifier(db.name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))


def postgres_version() -> str | None:
    """``server_version`` of the local PostgreSQL, or None when it does not answer."""
    try:
        with psycopg.connect(pg_conninfo("postgres")) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None
