"""A 2xx means committed: the transaction ends before the response starts (real server)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.live import LiveServer, prepare, serve
from vpitracker.db import make_engine

pytestmark = pytest.mark.server

ROUNDS = 25


@pytest.fixture
def live(scratch_database_url: str) -> Iterator[LiveServer]:
    with serve(prepare(scratch_database_url)) as server:
        yield server


def _client(server: LiveServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def test_deactivated_user_is_refused_on_the_very_next_request(live: LiveServer) -> None:
    admin_token = live.token()
    seen = []
    # The reader has its own warm connection, so its request reaches the server the
    # moment the writer's response arrives (the writer's connection is still busy).
    with _client(live, admin_token) as admin, _client(live) as reader:
        reader.get("/healthz")
        for n in range(ROUNDS):
            email, password = f"viewer{n}@example.org", f"quill-{n}-xyzzy-lantern"
            created = admin.post(
                "/v1/users",
                json={"email": email, "full_name": f"Viewer {n}", "role": "viewer",
                      "password": password},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            token = live.token(email, password)
            r = admin.patch(
                f"/v1/users/{created.json()['id']}",
                json={"is_active": False},
                headers={"If-Match": created.headers["ETag"]},
            )
            assert r.status_code == 200, r.text
            seen.append(
                reader.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
            )
    assert seen == [401] * ROUNDS


def test_created_record_is_readable_on_the_very_next_request(live: LiveServer) -> None:
    token = live.token()
    seen = []
    with _client(live, token) as writer, _client(live, token) as reader:
        reader.get("/healthz")
        for n in range(ROUNDS):
            r = writer.post(
                "/v1/ministries",
                json={"code": f"M{n}", "name": f"Ministry {n}", "kind": "ministry"},
            )
            assert r.status_code == 201, r.text
            seen.append(reader.get(f"/v1/ministries/{r.json()['id']}").status_code)
    assert seen == [200] * ROUNDS


_SQLITE_TRAP = [
    "CREATE TABLE commit_trap_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE commit_trap (parent_id INTEGER"
    " REFERENCES commit_trap_parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TRIGGER commit_trap_on_insert AFTER INSERT ON ministry WHEN NEW.code = 'TRAP'"
    " BEGIN INSERT INTO commit_trap (parent_id) VALUES (-1); END",
]
_POSTGRES_TRAP = [
    "CREATE TABLE commit_trap_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE commit_trap (parent_id INTEGER"
    " REFERENCES commit_trap_parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE FUNCTION commit_trap_fn() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN IF NEW.code = 'TRAP' THEN INSERT INTO commit_trap VALUES (-1); END IF;"
    " RETURN NEW; END $$",
    "CREATE TRIGGER commit_trap_on_insert AFTER INSERT ON ministry"
    " FOR EACH ROW EXECUTE FUNCTION commit_trap_fn()",
]


def test_a_failed_commit_is_never_acknowledged(scratch_database_url: str) -> None:
    """A deferred constraint fails only at COMMIT: the client must not get a 201."""
    env = prepare(scratch_database_url)
    engine = make_engine(scratch_database_url)
    trap = _POSTGRES_TRAP if engine.dialect.name == "postgresql" else _SQLITE_TRAP
    with engine.begin() as conn:
        for statement in trap:
            conn.execute(text(statement))
    engine.dispose()
    with serve(env) as live, _client(live, live.token()) as client:
        r = client.post("/v1/ministries", json={"code": "TRAP", "name": "Trap", "kind": "ministry"})
        assert r.status_code >= 500, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "not saved" in r.json()["detail"]
        codes = [m["code"] for m in client.get("/v1/ministries").json()["items"]]
        assert "TRAP" not in codes
        # The server goes on: the next write commits and is acknowledged.
        ok = client.post("/v1/ministries", json={"code": "OK", "name": "Fine", "kind": "ministry"})
        assert ok.status_code == 201, ok.text
        assert client.get("/v1/audit/verify").json()["ok"] is True
