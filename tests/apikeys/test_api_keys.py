"""Read-only API keys for dashboards (docs/concepts.md, who may do what)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from tests.assertions import problem, row_counts
from tests.conftest import test_settings
from tests.credentials import NON_SECRETARIAT, auth, headers_as
from tests.factories import (
    make_commitment,
    make_ministry,
    make_recommendation,
    make_user,
    status_update_body,
)
from vpitracker.config import Settings
from vpitracker.models import (
    ApiKey,
    Assessment,
    AuditEvent,
    Commitment,
    Ministry,
    Provision,
    Recommendation,
    StatusUpdate,
    User,
    utcnow,
)
from vpitracker.vocab import Role

READ_PATHS = ("/v1/reports/commitments", "/v1/progress/summary")
REPORT_AND_PROGRESS = (
    "/v1/progress/summary",
    "/v1/progress/ministries",
    "/v1/progress/clusters",
    "/v1/progress/instruments",
    "/v1/progress/timeline",
    "/v1/reports/commitments",
    "/v1/reports/recommendations",
    "/v1/reports/status-history",
    # the labels of the figures above, read by the same dashboards the same ways
    "/v1/vocabulary",
)


def basic(secret: str, user: str = "dashboard") -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


# Each way a dashboard can present a key: (headers, query parameters).
WAYS: dict[str, Callable[[str], tuple[dict[str, str], dict[str, str]]]] = {
    "bearer": lambda key: ({"Authorization": f"Bearer {key}"}, {}),
    "x_api_key": lambda key: ({"X-API-Key": key}, {}),
    "basic": lambda key: ({"Authorization": basic(key)}, {}),
    "query": lambda key: ({}, {"api_key": key}),
}


def create_key(client: TestClient, headers: dict[str, str], name: str = "Grafana") -> Response:
    return client.post("/v1/api-keys", json={"name": name}, headers=headers)


class Keys:
    """A secretariat user who manages keys, and one key created over the API."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.client = client
        self.session = session
        self.secretariat: User = make_user(session, Role.secretariat)
        self.admin = auth(settings, self.secretariat)
        r = create_key(client, self.admin)
        assert r.status_code == 201, r.text
        self.created: dict[str, Any] = r.json()
        self.location = r.headers["Location"]
        self.id: int = self.created["id"]
        self.secret: str = self.created["key"]

    def read(self, path: str, way: str, secret: str | None = None) -> Response:
        headers, params = WAYS[way](secret or self.secret)
        return self.client.get(path, headers=headers, params=params)

    def listed(self) -> dict[int, dict[str, Any]]:
        r = self.client.get("/v1/api-keys", headers=self.admin)
        assert r.status_code == 200, r.text
        assert self.secret not in r.text
        return {k["id"]: k for k in r.json()["items"]}


@pytest.fixture
def keys(client: TestClient, session: Session, settings: Settings) -> Keys:
    return Keys(client, session, settings)


class TestCreate:
    def test_the_secret_is_returned_once_and_only_a_hash_is_stored(
        self, keys: Keys, session: Session
    ) -> None:
        assert keys.secret.startswith("vpi_")
        assert len(keys.secret) >= 36
        assert keys.location.endswith(f"/v1/api-keys/{keys.id}")
        assert keys.created["name"] == "Grafana"
        assert keys.created["created_by"] == keys.secretariat.id
        assert (keys.created["last_used_at"], keys.created["revoked_at"]) == (None, None)

        listed = keys.listed()[keys.id]
        assert "key" not in listed
        assert listed["name"] == "Grafana"

        row = session.exec(select(ApiKey).where(ApiKey.id == keys.id)).one()
        assert row.key_hash == hashlib.sha256(keys.secret.encode()).hexdigest()
        stored = [str(getattr(row, column)) for column in ApiKey.model_fields]
        assert not any(keys.secret in value for value in stored)
        assert keys.secret[12:] not in " ".join(stored)  # the prefix is all of it kept in clear
        events = session.exec(select(AuditEvent).where(AuditEvent.entity_type == "api_key")).all()
        assert [e.action for e in events] == ["api_key.created"]
        assert not any(keys.secret[12:] in e.data for e in events)

    def test_two_keys_have_different_secrets(self, keys: Keys, client: TestClient) -> None:
        other = create_key(client, keys.admin, "Power BI").json()

        assert other["key"] != keys.secret
        assert set(keys.listed()) >= {keys.id, other["id"]}

    def test_a_client_cannot_choose_the_secret(self, keys: Keys, client: TestClient) -> None:
        r = client.post(
            "/v1/api-keys", json={"name": "mine", "key": "vpi_" + "a" * 40}, headers=keys.admin
        )

        problem(r, 422)


class TestReading:
    @pytest.mark.parametrize("way", list(WAYS))
    @pytest.mark.parametrize("path", READ_PATHS)
    def test_each_way_of_sending_the_key_reads_reports_and_progress(
        self, keys: Keys, way: str, path: str
    ) -> None:
        r = keys.read(path, way)

        assert r.status_code == 200, r.text
        assert r.json() is not None

    @pytest.mark.parametrize("way", list(WAYS))
    def test_csv_too(self, keys: Keys, way: str) -> None:
        headers, params = WAYS[way](keys.secret)

        r = keys.client.get(
            "/v1/progress/ministries", headers=headers, params=params | {"format": "csv"}
        )

        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")

    @pytest.mark.parametrize("path", REPORT_AND_PROGRESS)
    def test_every_report_and_progress_endpoint_takes_a_query_key(
        self, keys: Keys, path: str
    ) -> None:
        assert keys.read(path, "query").status_code == 200

    def test_a_key_reads_the_other_collections_with_a_header(self, keys: Keys) -> None:
        for path in ("/v1/commitments", "/v1/ministries", "/v1/recommendations", "/v1/changes"):
            assert keys.read(path, "x_api_key").status_code == 200, path

    @pytest.mark.parametrize("way", list(WAYS))
    def test_an_unknown_key_is_refused(self, keys: Keys, way: str) -> None:
        forged = "vpi_" + "x" * 43

        problem(keys.read("/v1/progress/summary", way, forged), 401)

    def test_use_sets_last_used_at(self, keys: Keys, session: Session) -> None:
        before = utcnow()
        assert keys.listed()[keys.id]["last_used_at"] is None

        assert keys.read("/v1/progress/summary", "x_api_key").status_code == 200

        used = keys.listed()[keys.id]["last_used_at"]
        assert used is not None
        row = session.exec(select(ApiKey).where(ApiKey.id == keys.id)).one()
        assert row.last_used_at is not None
        assert before - timedelta(seconds=5) <= row.last_used_at <= utcnow()


def non_report_reads(session: Session, keys: Keys) -> list[str]:
    """Every GET under /v1 that is neither a report nor a progress endpoint, ids filled in."""
    ids = write_ids(session, keys)
    paths = []
    for path, operations in keys.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if "get" in operations and path.startswith("/v1/") and path not in REPORT_AND_PROGRESS:
            paths.append(fill(path, ids))
    return paths


def write_ids(session: Session, keys: Keys) -> dict[str, str]:
    ministry = make_ministry(session)
    rec = make_recommendation(session)
    commitment = make_commitment(session, lead=ministry, recommendations=[rec])
    return {
        "ministry_id": str(ministry.id),
        "recommendation_id": str(rec.id),
        "commitment_id": str(commitment.id),
        "user_id": str(keys.secretariat.id),
        "key_id": str(keys.id),
        "key": "UNTOC-5",
        "kind": "ministries",
    }


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "1"), path)


class TestKeysAreReadOnly:
    @pytest.mark.parametrize("way", list(WAYS))
    def test_no_write_succeeds_and_nothing_is_written(
        self, keys: Keys, session: Session, way: str
    ) -> None:
        ministry = make_ministry(session, name="Ministry of Interior")
        commitment = make_commitment(session, lead=ministry)
        etag = keys.client.get(f"/v1/ministries/{ministry.id}", headers=keys.admin).headers["ETag"]
        headers, params = WAYS[way](keys.secret)
        before = row_counts(session, Ministry, StatusUpdate, Assessment, ApiKey, User)
        attempts = [
            ("POST", "/v1/ministries", {"code": "NEWM", "name": "New", "kind": "ministry"}, {}),
            (
                "PATCH",
                f"/v1/ministries/{ministry.id}",
                {"name": "Renamed by a dashboard"},
                {"If-Match": etag},
            ),
            (
                "POST",
                f"/v1/commitments/{commitment.id}/status-updates",
                status_update_body(),
                {},
            ),
            (
                "POST",
                f"/v1/commitments/{commitment.id}/assessments",
                {"verdict": "agrees", "assessed_status": "in_progress", "rationale": "Seen"},
                {},
            ),
            ("POST", f"/v1/ministries/{ministry.id}/archive", None, {}),
            ("POST", "/v1/api-keys", {"name": "escalation"}, {}),
            ("DELETE", f"/v1/api-keys/{keys.id}", None, {}),
        ]

        for method, path, body, extra in attempts:
            r = keys.client.request(method, path, json=body, headers=headers | extra, params=params)
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text)
            problem(r, r.status_code)

        assert row_counts(session, Ministry, StatusUpdate, Assessment, ApiKey, User) == before
        session.refresh(ministry)
        assert (ministry.name, ministry.archived_at) == ("Ministry of Interior", None)
        assert keys.listed()[keys.id]["revoked_at"] is None

    def test_every_write_operation_refuses_a_key(self, keys: Keys, session: Session) -> None:
        ids = write_ids(session, keys)
        before = row_counts(
            session, Ministry, Provision, Recommendation, Commitment, StatusUpdate, User, ApiKey
        )
        seen = 0
        for path, operations in keys.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
            for method in operations:
                if method not in ("post", "put", "patch", "delete") or path == "/v1/auth/token":
                    continue
                for way in ("x_api_key", "query"):
                    headers, params = WAYS[way](keys.secret)
                    r = keys.client.request(
                        method.upper(),
                        fill(path, ids),
                        json={},
                        headers=headers | {"If-Match": '"1"'},
                        params=params,
                    )
                    assert r.status_code in (401, 403), (method, path, way, r.text)
                    seen += 1

        assert seen >= 2 * 15
        assert (
            row_counts(
                session,
                Ministry,
                Provision,
                Recommendation,
                Commitment,
                StatusUpdate,
                User,
                ApiKey,
            )
            == before
        )

    def test_query_keys_work_only_on_reports_and_progress(
        self, keys: Keys, session: Session
    ) -> None:
        paths = non_report_reads(session, keys)

        assert "/v1/commitments" in paths
        for path in paths:
            r = keys.client.get(path, params={"api_key": keys.secret})
            assert r.status_code == 401, (path, r.status_code)
            problem(r, 401)

    def test_a_key_cannot_manage_keys(self, keys: Keys) -> None:
        r = keys.read("/v1/api-keys", "x_api_key")

        problem(r, 403)


class TestRevoke:
    def test_a_revoked_key_stops_working_at_once(self, keys: Keys, session: Session) -> None:
        assert keys.read("/v1/progress/summary", "bearer").status_code == 200

        r = keys.client.delete(f"/v1/api-keys/{keys.id}", headers=keys.admin)

        assert r.status_code == 200, r.text
        assert r.json()["revoked_at"] is not None
        assert "key" not in r.json()
        for way in WAYS:
            for path in READ_PATHS:
                problem(keys.read(path, way), 401)
        assert keys.read("/v1/commitments", "x_api_key").status_code == 401
        assert keys.listed()[keys.id]["revoked_at"] is not None
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(keys.id))
        ).all()
        assert "api_key.revoked" in actions

    def test_revoking_twice_changes_nothing(self, keys: Keys) -> None:
        first = keys.client.delete(f"/v1/api-keys/{keys.id}", headers=keys.admin)
        second = keys.client.delete(f"/v1/api-keys/{keys.id}", headers=keys.admin)

        assert first.status_code == second.status_code == 200
        assert first.json()["revoked_at"] == second.json()["revoked_at"]

    def test_an_unknown_key_id_is_404(self, keys: Keys) -> None:
        problem(keys.client.delete("/v1/api-keys/999999", headers=keys.admin), 404)

    def test_other_keys_keep_working(self, keys: Keys) -> None:
        other = create_key(keys.client, keys.admin, "Excel").json()["key"]

        keys.client.delete(f"/v1/api-keys/{keys.id}", headers=keys.admin)

        assert keys.read("/v1/progress/summary", "x_api_key", other).status_code == 200


class TestWhoManagesKeys:
    @pytest.mark.parametrize("who", NON_SECRETARIAT)
    def test_only_the_secretariat(
        self, keys: Keys, session: Session, settings: Settings, who: str
    ) -> None:
        headers = headers_as(session, settings, who)
        before = row_counts(session, ApiKey)

        problem(keys.client.get("/v1/api-keys", headers=headers), 403)
        problem(create_key(keys.client, headers), 403)
        problem(keys.client.delete(f"/v1/api-keys/{keys.id}", headers=headers), 403)

        assert row_counts(session, ApiKey) == before
        assert keys.listed()[keys.id]["revoked_at"] is None

    def test_anonymous_callers_are_asked_to_sign_in(self, keys: Keys) -> None:
        problem(keys.client.get("/v1/api-keys"), 401)
        problem(create_key(keys.client, {}), 401)
        problem(keys.client.delete(f"/v1/api-keys/{keys.id}"), 401)


class TestAnonymousReads:
    def test_by_default_progress_and_reports_need_credentials(self, client: TestClient) -> None:
        for path in REPORT_AND_PROGRESS:
            problem(client.get(path), 401)


class TestPublicRead:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(public_read=True)

    def test_anyone_reads_progress_and_reports(self, client: TestClient, session: Session) -> None:
        make_commitment(session, lead=make_ministry(session))

        for path in REPORT_AND_PROGRESS:
            r = client.get(path)
            assert r.status_code == 200, (path, r.text)
        csv = client.get("/v1/reports/commitments", params={"format": "csv"})
        assert csv.status_code == 200
        assert len(csv.text.strip().splitlines()) == 2
        assert client.get("/v1/progress/summary").json()["commitments"] == 1

    def test_but_not_the_other_collections(self, client: TestClient) -> None:
        for path in ("/v1/commitments", "/v1/ministries", "/v1/changes", "/v1/me"):
            problem(client.get(path), 401)

    def test_and_never_writes(self, client: TestClient, session: Session) -> None:
        before = row_counts(session, Ministry)

        r = client.post("/v1/ministries", json={"code": "ANON", "name": "Anon", "kind": "other"})

        problem(r, 401)
        assert row_counts(session, Ministry) == before

    def test_bad_or_revoked_credentials_are_still_refused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        admin = auth(settings, make_user(session, Role.secretariat))
        created = create_key(client, admin).json()
        client.delete(f"/v1/api-keys/{created['id']}", headers=admin)

        for secret in ("vpi_" + "x" * 43, created["key"]):
            for way in WAYS:
                headers, params = WAYS[way](secret)
                r = client.get("/v1/progress/summary", headers=headers, params=params)
                problem(r, 401)
        problem(client.get("/v1/progress/summary", headers={"Authorization": "Bearer nope"}), 401)
