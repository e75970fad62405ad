"""Ministries over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from tests.assertions import last_event, problem
from tests.credentials import auth
from tests.factories import make_ministry, make_user
from tests.resources import ContextMaker
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
        event = session.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
        assert event is not None
        assert (event.action, event.entity_id, event.actor_id) == (
            "ministry.created",
            str(body["id"]),
            sec.id,
        )

    @pytest.mark.parametrize(
        ("body", "locs"),
        [
            ({"code": "X1", "name": "X", "kind": "ministry", "colour": "red"}, {"colour"}),
            (
                {"code": "X2", "name": "X", "kind": "galaxy", "contact_email": "not-an-email"},
                {"kind", "contact_email"},
            ),
            (
                {"code": "SD1", "name": "State Dept", "kind": "state_department", "parent_id": 99},
                {"parent_id"},
            ),
        ],
        ids=["unknown field", "invalid kind and email", "unknown parent"],
    )
    def test_a_refused_body_is_422_naming_each_field_and_writes_nothing(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        body: dict[str, Any],
        locs: set[str],
    ) -> None:
        sec = make_user(session, Role.secretariat)
        before = counts(session)

        r = client.post("/v1/ministries", json=body, headers=auth(settings, sec))

        errors = problem(r, 422)["errors"]
        assert {tuple(e["loc"]) for e in errors} == {("body", loc) for loc in locs}
        assert all(e["msg"] for e in errors)
        assert counts(session) == before

    def test_state_department_under_its_ministry(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        parent = make_ministry(session)
        r = client.post(
            "/v1/ministries",
            json={
                "code": "SDI",
                "name": "State Department for Immigration",
                "kind": "state_department",
                "parent_id": parent.id,
                "contact_email": "Focal.Point@example.go.ke",
            },
            headers=auth(settings, sec),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["parent_id"], body["kind"], body["archived_at"]) == (
            parent.id,
            "state_department",
            None,
        )
        assert body["created_at"].endswith("Z")


class TestGetMinistry:
    def test_reads_one_with_its_etag(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        ministry = make_ministry(session, code="MOJ", name="Ministry of Justice")
        r = client.get(
            f"/v1/ministries/{ministry.id}", headers=auth(settings, make_user(session, Role.viewer))
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v1"'
        assert (r.json()["id"], r.json()["code"], r.json()["name"]) == (
            ministry.id,
            "MOJ",
            "Ministry of Justice",
        )


class TestListMinistries:
    def codes(self, client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
        r = client.get("/v1/ministries", params={"limit": 1000, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return [m["code"] for m in r.json()["items"]]

    def test_filters_by_q_kind_and_parent(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session, Role.alliance_member))
        interior = make_ministry(session, code="MOI", name="Ministry of Interior")
        make_ministry(
            session, code="SDI", name="Immigration", kind="state_department", parent_id=interior.id
        )
        make_ministry(session, code="FRC", name="Financial Reporting Centre", kind="agency")
        assert self.codes(client, headers, q="interior") == ["MOI"]
        assert self.codes(client, headers, q="frc") == ["FRC"]
        assert self.codes(client, headers, q="%") == []
        assert self.codes(client, headers, kind="agency") == ["FRC"]
        assert self.codes(client, headers, parent_id=interior.id) == ["SDI"]
        assert self.codes(client, headers, kind="state_department", q="immig") == ["SDI"]

    def test_sorts_ascending_and_descending(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        for code, name in (("B", "Charlie"), ("C", "Alpha"), ("A", "Bravo")):
            make_ministry(session, code=code, name=name)
        assert self.codes(client, headers, sort="code") == ["A", "B", "C"]
        assert self.codes(client, headers, sort="-code") == ["C", "B", "A"]
        assert self.codes(client, headers, sort="name") == ["C", "A", "B"]
        assert self.codes(client, headers, sort="-name") == ["B", "A", "C"]
        assert self.codes(client, headers) == ["B", "C", "A"]  # default: id

    @pytest.mark.parametrize("params", [{"sort": "colour"}, {"kind": "galaxy"}, {"limit": 0}])
    def test_invalid_query_is_422(
        self, client: TestClient, session: Session, settings: Settings, params: dict[str, Any]
    ) -> None:
        r = client.get("/v1/ministries", params=params, headers=auth(settings, make_user(session)))
        (name,) = params
        assert problem(r, 422)["errors"][0]["loc"] == ["query", name]


class TestUpdateMinistry:
    def test_patch_with_if_match_changes_and_audits(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session)
        ministry = make_ministry(session, name="Old name")
        r = client.patch(
            f"/v1/ministries/{ministry.id}",
            json={"name": "New name"},
            headers={**auth(settings, sec), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v2"'
        assert r.json()["name"] == "New name"
        event = last_event(session)
        assert (event.action, event.entity_id) == ("ministry.updated", str(ministry.id))
        assert json.loads(event.data)["name"] == {"old": "Old name", "new": "New name"}

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"name": None}, ["body", "name"]),
            ({"name": ""}, ["body", "name"]),
            ({"kind": "galaxy"}, ["body", "kind"]),
            ({"colour": "red"}, ["body", "colour"]),
            ({"version": 7}, ["body", "version"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, body: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("ministries")
        session = ctx.session
        ministry = make_ministry(session, name="Kept")
        with ctx.unchanged(ministry):
            assert problem(ctx.patch(ministry, body), 422)["errors"][0]["loc"] == loc

    def test_parent_cycle_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        parent = make_ministry(session)
        child = make_ministry(session, parent_id=parent.id, kind="state_department")
        headers = {**auth(settings, make_user(session)), "If-Match": '"v1"'}
        before = counts(session)
        r = client.patch(
            f"/v1/ministries/{parent.id}", json={"parent_id": child.id}, headers=headers
        )
        assert problem(r, 422)["errors"][0]["loc"] == ["body", "parent_id"]
        assert counts(session) == before
