"""Run the Alembic migrations from code (``serve`` start-up, ``db upgrade``, tests)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import Connection


def migrations_dir() -> Path:
    """``VPI_MIGRATIONS_DIR``, else the checkout's ``migrations/``, else ``./migrations``."""
    candidates = [
        os.environ.get("VPI_MIGRATIONS_DIR"),
        str(Path(__file__).resolve().parents[2] / "migrations"),
        str(Path.cwd() / "migrations"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").is_file():
            return Path(candidate)
    raise FileNotFoundError("migrations/ not found; set VPI_MIGRATIONS_DIR")


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url is not None:
        config.attributes["url"] = url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
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
