"""Alembic environment: runs against VPI_DATABASE_URL or a connection handed in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import vpitracker.models  # noqa: F401 - registers every table
from vpitracker.config import get_settings
from vpitracker.db import make_engine
from vpitracker.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
run_migrations_online()
