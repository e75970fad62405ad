"""Rules the server enforces are written where clients and dashboard builders read them."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import test_settings
from vpitracker.main import create_app

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = (ROOT / "docs" / "dashboards.md").read_text("utf-8")


def _document() -> dict[str, Any]:
    return create_app(test_settings()).openapi()


def _parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = document["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_the_schema_states_the_rules_the_server_enforces() -> None:
    document = _document()
    body = document["components"]["schemas"]["StatusUpdateCreate"]["properties"]
    assert "completed" in body["progress_percent"]["description"]
    assert "100" in body["progress_percent"]["description"]
    assert "expected_hash" in _parameter(document, "/v1/audit/verify", "from_seq")["description"]
    assert "from_seq" in _parameter(document, "/v1/audit/verify", "expected_hash")["description"]
    assert "Opaque" in _parameter(document, "/v1/commitments", "cursor")["description"]


def test_the_dashboard_guide_says_which_progress_filters_each_endpoint_takes() -> None:
    document = _document()
    for path, grouped_by in (
        ("/v1/progress/clusters", "cluster"),
        ("/v1/progress/instruments", "instrument"),
    ):
        names = {p["name"] for p in document["paths"][path]["get"]["parameters"]}
        assert grouped_by not in names
        assert re.search(rf"`{re.escape(path)}`\s+does not take `{grouped_by}`", DASHBOARDS)


def _recipe() -> str:
    block = DASHBOARDS.split("```sql\n", 1)[1].split("```", 1)[0]
    assert "REVOKE CONNECT, TEMPORARY ON DATABASE vpitracker FROM PUBLIC;" in block
    assert "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;" in block
    return block


@pytest.mark.postgres_only
def test_the_read_only_role_recipe_leaves_no_temp_tables(scratch_database_url: str) -> None:
    database = str(make_url(scratch_database_url).database)
    role = f"vpi_ro_{uuid.uuid4().hex[:8]}"
    # The recipe for this database only: the line for `postgres` would change the server.
    statements = [
        s.strip().replace("vpitracker", database).replace("vpi_readonly", role)
        for s in re.sub(r"--[^\n]*", "", _recipe()).split(";")
        if s.strip() and "DATABASE postgres" not in s and "report_" not in s
    ]
    engine = create_engine(scratch_database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
            allowed = connection.execute(
                text(
                    "SELECT has_database_privilege(:r, :d, 'CONNECT'), "
                    "has_database_privilege(:r, :d, 'TEMPORARY')"
                ),
                {"r": role, "d": database},
            ).one()
            assert tuple(allowed) == (True, False)
            connection.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM {role}'))
            connection.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
    finally:
        engine.dispose()
