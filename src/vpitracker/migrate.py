"""Run the Alembic migrations from code (``serve`` start-up, ``db upgrade``, tests)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection


class MigrationsNotFound(FileNotFoundError):
    """Neither the override, the installed package nor a checkout has the migrations."""


def migrations_dir() -> Path:
    """``VPI_MIGRATIONS_DIR`` if set; else the copy inside the installed package; else the
    ``migrations/`` of the source checkout this module runs from (editable installs)."""
    override = os.environ.get("VPI_MIGRATIONS_DIR")
    if override:
        if (Path(override) / "env.py").is_file():
            return Path(override)
        raise MigrationsNotFound(f"VPI_MIGRATIONS_DIR={override} has no env.py")
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise MigrationsNotFound(
        "the migrations are missing from this installation; reinstall vpitracker "
        "or set VPI_MIGRATIONS_DIR"
    )


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# pg_advisory_xact_lock key for "vpitracker migrations" (any constant shared by all processes).
_MIGRATION_LOCK_KEY = 0x7670_6974_6D69_67


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate once even when many processes (or hosts) start at the same moment.

    PostgreSQL: a transaction-scoped advisory lock, so the second process waits, then
    finds the schema at head and does nothing. SQLite: ``BEGIN IMMEDIATE`` takes the
    file's write lock first (see ``db.WRITE_OPTIONS``), with the same effect.
    """
    from vpitracker.db import WRITE_OPTIONS

    with engine.execution_options(**WRITE_OPTIONS).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
        command.upgrade(alembic_config(connection=connection), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), revision)


@lru_cache
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migrations this code ships with."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


def is_at_head(engine: Engine) -> bool:
    with engine.connect() as connection:
        return current_heads(connection) == expected_heads()
