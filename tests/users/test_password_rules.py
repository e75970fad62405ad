"""New passwords: refused with a 422 that names the rule they break."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem
from tests.credentials import auth
from tests.factories import make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role

EMAIL, NAME = "wanjiru.kamau@alliance.org", "Wanjiru Kamau"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("1111111111", "repeated"),
        ("abcabcabcabc", "repeated"),
        ("1234567890", "run of characters"),
        ("zyxwvutsrqp", "run of characters"),
        ("QwertyUIOP", "commonly used"),
        ("password123", "commonly used"),
        (EMAIL, "email"),
        ("my-wanjiru.kamau-pass", "email"),
        ("Kamau-2026-secret", "name"),
        ("            ", "only spaces"),
    ],
)
def test_a_weak_password_is_422_naming_the_rule(
    client: TestClient, session: Session, settings: Settings, password: str, rule: str
) -> None:
    admin = auth(settings, make_user(session, Role.secretariat))
    body = {"email": EMAIL, "full_name": NAME, "role": "viewer", "password": password}
    refused = problem(client.post("/v1/users", json=body, headers=admin), 422)
    assert rule in refused["detail"]
    assert refused["errors"][0]["loc"] == ["body", "password"]
    assert password not in refused["detail"]


def test_a_weak_new_password_on_update_is_422_and_a_good_one_passes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = auth(settings, make_user(session, Role.secretariat))
    user = make_user(session, Role.viewer, email=EMAIL, full_name=NAME)
    etag = client.get(f"/v1/users/{user.id}", headers=admin).headers["ETag"]
    headers = {**admin, "If-Match": etag}
    weak = client.patch(f"/v1/users/{user.id}", json={"password": "0000000000"}, headers=headers)
    assert "repeated" in problem(weak, 422)["detail"]
    good = client.patch(
        f"/v1/users/{user.id}", json={"password": "lantern quill harbour 9"}, headers=headers
    )
    assert good.status_code == 200, good.text
