"""The OpenAPI document states the version rules as generated clients read them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import test_settings
from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.main import create_app
from vpitracker.vocab import Role


def _document() -> dict[str, Any]:
    return create_app(test_settings()).openapi()


def _if_match(operation: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            p
            for p in operation.get("parameters", [])
            if p["in"] == "header" and p["name"] == "if-match"
        ),
        None,
    )


def test_every_patch_requires_if_match_and_declares_the_etag() -> None:
    paths = _document()["paths"]
    patches = {path: item for path, item in paths.items() if "patch" in item}
    assert len(patches) >= 5
    for path, item in patches.items():
        parameter = _if_match(item["patch"])
        assert parameter is not None, path
        assert parameter["required"] is True, path
        assert parameter["schema"] == {"type": "string"}, path
        assert "428" in item["patch"]["responses"], path
        for method in ("get", "patch"):
            headers = item[method]["responses"]["200"].get("headers", {})
            assert "ETag" in headers, (method, path)
    # nothing else asks for If-Match
    for path, item in paths.items():
        for method, operation in item.items():
            if method != "patch":
                assert _if_match(operation) is None, (method, path)


def test_a_patch_without_if_match_is_still_428_not_a_validation_error(
    client: TestClient, session: Session, settings: Settings
) -> None:
    ministry = make_ministry(session)
    secretariat = make_user(session, Role.secretariat)
    headers = auth(settings, secretariat)
    r = client.get(f"/v1/ministries/{ministry.id}", headers=headers)
    assert r.headers["ETag"]
    missing = client.patch(f"/v1/ministries/{ministry.id}", json={"name": "X"}, headers=headers)
    assert missing.status_code == 428, missing.text
    ok = client.patch(
        f"/v1/ministries/{ministry.id}",
        json={"name": "Renamed"},
        headers={**headers, "If-Match": r.headers["ETag"]},
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] != r.headers["ETag"]
