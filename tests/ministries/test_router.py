"""Ministries over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from tests.factories import auth, make_ministry, make_user
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry
from vpitracker.vocab import Role


def counts(session: Session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(Ministry)).one(),
        session.exec(select(func.count()).select_from(AuditEvent)).one(),
    )


class TestCreateMinistry:
    def test_secretariat_creates_and_it_is_audited(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        r = client.post(
            "/v1/ministries",
            json={"code": "MOI", "name": "Ministry of Interior", "kind": "ministry"},
            headers=auth(settings, sec),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["Location"] == f"/v1/ministries/{body['id']}"
        assert r.headers["ETag"] == '"v1"'
        assert body["code"] == "MOI"
        event = session.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()  # type: ignore[union-attr]
        assert event is not None
        assert (event.action, event.entity_id, event.actor_id) == (
            "ministry.created",
            str(body["id"]),
            sec.id,
        )

    def test_duplicate_code_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        make_ministry(session, code="DUP")
        before = counts(session)
        r = client.post(
            "/v1/ministries",
            json={"code": "DUP", "name": "Again", "kind": "ministry"},
            headers=auth(settings, sec),
        )
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert counts(session) == before

    def test_unknown_field_is_422_problem(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        before = counts(session)
        r = client.post(
            "/v1/ministries",
            json={"code": "X1", "name": "X", "kind": "ministry", "colour": "red"},
            headers=auth(settings, sec),
        )
        assert r.status_code == 422
        problem = r.json()
        assert problem["status"] == 422
        assert problem["errors"][0]["loc"] == ["body", "colour"]
        assert counts(session) == before
