"""Civil society's recommendations over HTTP."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import last_event, problem, row_counts
from tests.credentials import auth
from tests.factories import (
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
from tests.resources import ContextMaker
from vpitracker.config import Settings
from vpitracker.models import (
    Recommendation,
    RecommendationProvision,
    utcnow,
)


def counts(session: Session) -> tuple[int, ...]:
    return row_counts(session, Recommendation, RecommendationProvision)


def new_body(**fields: Any) -> dict[str, Any]:
    return {
        "code": "VPI-TIP-03",
        "title": "Protect victims of trafficking",
        "text": "Fund shelters and a victim assistance scheme.",
        "source": "VPI Kenya, TiP working group",
        **fields,
    }


class TestCreateRecommendation:
    def test_returns_provision_keys_derived_clusters_and_is_audited(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.post(
            "/v1/recommendations",
            json=new_body(
                provision_keys=["UNTOC-5", "TIP-6", "SOM-6"],
                raised_by=["HAART Kenya", "Awareness Against Human Trafficking"],
                source_date="2026-03-14",
                priority="high",
                government_response="supported",
            ),
            headers=auth(settings, make_user(session)),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["Location"] == f"/v1/recommendations/{body['id']}"
        assert r.headers["ETag"] == '"v1"'
        assert body["provision_keys"] == ["SOM-6", "TIP-6", "UNTOC-5"]
        # UNTOC-5 and SOM-6 are cluster 1 in the catalogue; TIP-6 has no cluster.
        assert body["clusters"] == [1]
        assert body["implementation"] == "no_commitment"
        assert (body["priority"], body["government_response"], body["source_date"]) == (
            "high",
            "supported",
            "2026-03-14",
        )
        assert body["raised_by"] == ["HAART Kenya", "Awareness Against Human Trafficking"]
        event = last_event(session)
        assert (event.action, event.entity_id) == ("recommendation.created", str(body["id"]))
        assert json.loads(event.data)["provision_keys"] == ["SOM-6", "TIP-6", "UNTOC-5"]

    def test_defaults(self, client: TestClient, session: Session, settings: Settings) -> None:
        r = client.post(
            "/v1/recommendations", json=new_body(), headers=auth(settings, make_user(session))
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["priority"], body["government_response"]) == ("medium", "pending")
        assert (body["provision_keys"], body["clusters"], body["raised_by"]) == ([], [], [])

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"provision_keys": ["TIP-6", "TIP-999"]}, ["body", "provision_keys"]),
            ({"provision_keys": ["TIP-\u0000"]}, ["body", "provision_keys", 0]),
            ({"priority": "urgent"}, ["body", "priority"]),
            ({"government_response": "accepted"}, ["body", "government_response"]),
            ({"source_date": "14/03/2026"}, ["body", "source_date"]),
            ({"code": "has space"}, ["body", "code"]),
            ({"title": "   "}, ["body", "title"]),
            ({"implementation": "completed"}, ["body", "implementation"]),
            ({"clusters": [1]}, ["body", "clusters"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, change: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("recommendations")
        with ctx.unchanged():
            assert problem(ctx.post(new_body(**change)), 422)["errors"][0]["loc"] == loc

    def test_missing_required_fields_are_listed(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        before = counts(session)
        r = client.post("/v1/recommendations", json={"code": "X"}, headers=headers)
        locs = {tuple(e["loc"]) for e in problem(r, 422)["errors"]}
        assert locs == {("body", "title"), ("body", "text"), ("body", "source")}
        assert counts(session) == before


class TestGetRecommendation:
    def test_reads_one_with_implementation(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session)
        rec = make_recommendation(session, provision_keys=["TIP-6", "UNTOC-5"])
        r = client.get(f"/v1/recommendations/{rec.id}", headers=auth(settings, sec))
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v1"'
        assert (r.json()["provision_keys"], r.json()["clusters"]) == (["TIP-6", "UNTOC-5"], [1])
        assert r.json()["implementation"] == "no_commitment"
        commitment = make_commitment(session, lead=make_ministry(session), recommendations=[rec])
        r = client.get(f"/v1/recommendations/{rec.id}", headers=auth(settings, sec))
        assert r.json()["implementation"] == "not_started"
        make_update(session, commitment, by=sec, at=utcnow(), status="completed", progress=100)
        r = client.get(f"/v1/recommendations/{rec.id}", headers=auth(settings, sec))
        assert r.json()["implementation"] == "completed"


class TestListRecommendations:
    def codes(self, client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
        r = client.get("/v1/recommendations", params={"limit": 1000, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return [rec["code"] for rec in r.json()["items"]]

    def test_filters(self, client: TestClient, session: Session, settings: Settings) -> None:
        sec = make_user(session)
        headers = auth(settings, sec)
        lead, support, other = (
            make_ministry(session),
            make_ministry(session),
            make_ministry(session),
        )
        victims = make_recommendation(
            session,
            code="R-VICTIMS",
            title="Shelters for victims",
            provision_keys=["TIP-6"],
            priority="high",
            government_response="supported",
        )
        guns = make_recommendation(
            session,
            code="R-GUNS",
            text="Mark every FIREARM at import",
            provision_keys=["FIREARMS-8"],
            priority="low",
            government_response="noted",
        )
        make_recommendation(
            session,
            code="R-LAUNDER",
            provision_keys=["UNTOC-6", "SOM-6"],
            priority="medium",
            government_response="pending",
        )
        started = make_commitment(
            session, lead=lead, supporting=[support], recommendations=[victims]
        )
        make_update(session, started, by=sec, at=utcnow(), status="in_progress")
        make_commitment(session, lead=other, recommendations=[guns])
        make_commitment(session, lead=other, recommendations=[victims], archived_at=utcnow())

        assert self.codes(client, headers, q="shelters") == ["R-VICTIMS"]
        assert self.codes(client, headers, q="firearm") == ["R-GUNS"]  # text, any case
        assert self.codes(client, headers, provision="TIP-6") == ["R-VICTIMS"]
        assert self.codes(client, headers, cluster=1) == ["R-LAUNDER"]
        assert self.codes(client, headers, instrument="firearms_protocol") == ["R-GUNS"]
        assert self.codes(client, headers, instrument="smuggling_protocol") == ["R-LAUNDER"]
        assert self.codes(client, headers, priority="high") == ["R-VICTIMS"]
        assert self.codes(client, headers, government_response="noted") == ["R-GUNS"]
        assert self.codes(client, headers, implementation="in_progress") == ["R-VICTIMS"]
        assert self.codes(client, headers, implementation="not_started") == ["R-GUNS"]
        assert self.codes(client, headers, implementation="no_commitment") == ["R-LAUNDER"]
        assert self.codes(client, headers, ministry_id=lead.id) == ["R-VICTIMS"]
        assert self.codes(client, headers, ministry_id=support.id) == ["R-VICTIMS"]
        # The archived commitment does not tie R-VICTIMS to `other`.
        assert self.codes(client, headers, ministry_id=other.id) == ["R-GUNS"]
        assert self.codes(client, headers, priority="high", implementation="not_started") == []

    def test_sorts_ascending_and_descending(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        for code in ("R-B", "R-C", "R-A"):
            make_recommendation(session, code=code)
        assert self.codes(client, headers, sort="code") == ["R-A", "R-B", "R-C"]
        assert self.codes(client, headers, sort="-code") == ["R-C", "R-B", "R-A"]
        assert self.codes(client, headers, sort="-id") == ["R-A", "R-C", "R-B"]
        assert self.codes(client, headers) == ["R-B", "R-C", "R-A"]

    @pytest.mark.parametrize(
        "params",
        [
            {"sort": "priority"},
            {"sort": "-title"},
            {"priority": "urgent"},
            {"implementation": "done"},
            {"cluster": 0},
            {"ministry_id": "moi"},
        ],
    )
    def test_invalid_query_is_422(
        self, client: TestClient, session: Session, settings: Settings, params: dict[str, Any]
    ) -> None:
        r = client.get(
            "/v1/recommendations", params=params, headers=auth(settings, make_user(session))
        )
        (name,) = params
        assert problem(r, 422)["errors"][0]["loc"] == ["query", name]

    def test_as_of_leaves_out_later_recommendations(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        make_recommendation(session, code="R-OLD", source_date=date(2025, 1, 10))
        make_recommendation(session, code="R-NEW", source_date=date(2026, 6, 1))
        assert self.codes(client, headers, as_of="2025-12-31") == ["R-OLD"]
        assert self.codes(client, headers) == ["R-OLD", "R-NEW"]


class TestUpdateRecommendation:
    def test_patch_replaces_provisions_and_clusters_follow(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        rec = make_recommendation(session, provision_keys=["TIP-6"], priority="low")
        r = client.patch(
            f"/v1/recommendations/{rec.id}",
            json={"provision_keys": ["UNTOC-5", "TIP-6"], "priority": "high"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v2"'
        body = r.json()
        assert (body["provision_keys"], body["clusters"], body["priority"]) == (
            ["TIP-6", "UNTOC-5"],
            [1],
            "high",
        )
        data = json.loads(last_event(session).data)
        assert data["provision_keys"] == {"old": ["TIP-6"], "new": ["TIP-6", "UNTOC-5"]}
        assert data["priority"] == {"old": "low", "new": "high"}

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"provision_keys": ["NOPE-1"]}, ["body", "provision_keys"]),
            ({"provision_keys": None}, ["body", "provision_keys"]),
            ({"title": None}, ["body", "title"]),
            ({"priority": "urgent"}, ["body", "priority"]),
            ({"archived_at": None}, ["body", "archived_at"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, body: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("recommendations")
        session = ctx.session
        rec = make_recommendation(session, provision_keys=["TIP-6"])
        with ctx.unchanged(rec):
            assert problem(ctx.patch(rec, body), 422)["errors"][0]["loc"] == loc
