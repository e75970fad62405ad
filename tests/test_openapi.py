"""The committed OpenAPI document is the app's."""

from __future__ import annotations

import json
from pathlib import Path

from vpitracker.openapi_doc import render

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


class TestOpenApiDocument:
    def test_committed_file_matches_the_app(self) -> None:
        assert COMMITTED.read_text("utf-8") == render(), (
            "openapi/openapi.json is out of date: run `make openapi`"
        )

    def test_operation_ids_are_stable_and_readable(self) -> None:
        document = json.loads(render())
        ids = [
            op["operationId"]
            for path in document["paths"].values()
            for op in path.values()
            if isinstance(op, dict) and "operationId" in op
        ]
        assert len(ids) == len(set(ids))
        assert "commitments-list" in ids
        assert all(i == i.lower() and " " not in i for i in ids)

    def test_errors_are_declared_as_problem_json(self) -> None:
        document = json.loads(render())
        create = document["paths"]["/v1/commitments"]["post"]["responses"]
        assert "application/problem+json" in create["409"]["content"]
        assert "application/problem+json" in create["422"]["content"]
