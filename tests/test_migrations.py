"""Migrations: upgrade, downgrade, upgrade again, and no drift from the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text

from vpitracker import migrate
from vpitracker.db import make_engine
from vpitracker.models import Provision, metadata


@pytest.fixture
def scratch_engine(scratch_database_url: str) -> Iterator[Engine]:
    engine = make_engine(scratch_database_url)
    yield engine
    engine.dispose()


def _drift(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


class TestMigrations:
    def test_upgrade_downgrade_upgrade_leaves_no_drift(self, scratch_engine: Engine) -> None:
        migrate.upgrade(scratch_engine)
        assert migrate.is_at_head(scratch_engine)
        assert _drift(scratch_engine) == []

        migrate.downgrade(scratch_engine, "base")
        tables = set(inspect(scratch_engine).get_table_names()) - {"alembic_version"}
        assert tables == set()

        migrate.upgrade(scratch_engine)
        assert _drift(scratch_engine) == []
        with scratch_engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(Provision.__table__)).scalar_one()  # type: ignore[attr-defined]
        assert count == 107

    def test_catalogue_matches_the_shipped_file(self, scratch_engine: Engine) -> None:
        migrate.upgrade(scratch_engine)
        with scratch_engine.connect() as conn:
            row = conn.execute(
                text("SELECT instrument, article, title FROM provision WHERE key = 'TIP-6'")
            ).one()
        assert row.instrument == "trafficking_protocol"
        assert row.article == "6"
        assert row.title.startswith("Assistance to and protection of victims")
