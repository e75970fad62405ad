"""CSV ``header=labels``: a header row of human labels; column names and cells never change."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_update, make_user
from vpitracker.config import Settings
from vpitracker.openapi_doc import render


def csv_paths() -> list[str]:
    """Every operation that answers CSV, from the OpenAPI document."""
    paths = json.loads(render())["paths"]
    return sorted(
        path
        for path, item in paths.items()
        if "text/csv" in item.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
    )


CSV_PATHS = csv_paths()


def rows(client: TestClient, path: str, query: str, **headers: str) -> list[list[str]]:
    r = client.get(f"{path}?format=csv{query}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(r.text)))


@pytest.fixture
def headers(session: Session, settings: Settings) -> dict[str, str]:
    commitment = make_commitment(session, lead=make_ministry(session))
    user = make_user(session)
    make_update(
        session,
        commitment,
        by=user,
        at=datetime.now(UTC) - timedelta(days=1),
        status="stalled",
        summary="Fedha bado hazijatolewa.",
    )
    return auth(settings, user)


def test_the_csv_operations_are_found() -> None:
    assert "/v1/reports/commitments" in CSV_PATHS
    assert len(CSV_PATHS) >= 8


@pytest.mark.parametrize("path", CSV_PATHS)
def test_every_column_of_every_csv_has_a_kiswahili_label(
    client: TestClient, headers: dict[str, str], path: str
) -> None:
    names = rows(client, path, "", **headers)
    labelled = rows(client, path, "&header=labels&lang=sw", **headers)
    english = rows(client, path, "&header=labels&lang=en", **headers)
    assert len(labelled[0]) == len(names[0]) == len(english[0])
    for name, sw, en in zip(names[0], labelled[0], english[0], strict=True):
        assert sw not in ("", name), name
        assert sw != en, name
    assert labelled[1:] == names[1:], "only the header row changes"


def test_labels_follow_accept_language_and_names_stay_the_default(
    client: TestClient, headers: dict[str, str]
) -> None:
    path = "/v1/reports/commitments"
    names = rows(client, path, "", **headers, **{"Accept-Language": "sw"})
    assert names[0][:3] == ["id", "code", "title"]
    sw = rows(client, path, "&header=labels", **headers, **{"Accept-Language": "sw-KE"})
    assert sw[0][:4] == ["Nambari", "Msimbo", "Kichwa", "Msimbo wa wizara kiongozi"]
    assert "Hali iliyoripotiwa" in sw[0]
    en = rows(client, path, "&header=labels", **headers)
    assert en[0][:4] == ["Id", "Code", "Title", "Lead ministry code"]
    explicit = rows(client, path, "&header=names&lang=sw", **headers)
    assert explicit[0] == names[0]


def test_cells_keep_machine_values_and_free_text_as_written(
    client: TestClient, headers: dict[str, str]
) -> None:
    table = rows(client, "/v1/reports/status-history", "&header=labels&lang=sw", **headers)
    header, row = table[0], table[1]
    assert row[header.index("Hali")] == "stalled"
    assert row[header.index("Muhtasari")] == "Fedha bado hazijatolewa."


def test_nested_summary_columns_are_labelled_by_parts(
    client: TestClient, headers: dict[str, str]
) -> None:
    sw = rows(client, "/v1/progress/summary", "&header=labels&lang=sw", **headers)
    assert "Hali iliyoripotiwa: Imekwama" in sw[0]
    assert "Uamuzi: Haijatathminiwa" in sw[0]
