"""Civil society's recommendations over HTTP."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from tests.assertions import assert_unchanged, last_event, problem, row_counts
from tests.credentials import BAD_CREDENTIALS, NON_SECRETARIAT, auth, bad_auth, headers_as
from tests.factories import (
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
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

    def test_duplicate_code_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        make_recommendation(session, code="VPI-TIP-03")
        before = counts(session)
        r = client.post(
            "/v1/recommendations",
            json=new_body(provision_keys=["TIP-6"]),
            headers=auth(settings, make_user(session)),
        )
        assert "VPI-TIP-03" in problem(r, 409)["detail"]
        assert counts(session) == before

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
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        change: dict[str, Any],
        loc: list[str],
    ) -> None:
        headers = auth(settings, make_user(session))
        before = counts(session)
        r = client.post("/v1/recommendations", json=new_body(**change), headers=headers)
        body = problem(r, 422)
        assert body["errors"][0]["loc"] == loc
        assert counts(session) == before

    def test_missing_required_fields_are_listed(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        before = counts(session)
        r = client.post(
            "/v1/recommendations", json={"code": "X"}, headers=auth(settings, make_user(session))
        )
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

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.get("/v1/recommendations/424242", headers=auth(settings, make_user(session)))
        problem(r, 404)


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

    def test_without_if_match_is_428_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        rec = make_recommendation(session, provision_keys=["TIP-6"])
        before = counts(session)
        r = client.patch(
            f"/v1/recommendations/{rec.id}",
            json={"provision_keys": []},
            headers=auth(settings, make_user(session)),
        )
        problem(r, 428)
        assert counts(session) == before
        assert_unchanged(session, rec)

    def test_stale_etag_is_412_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        rec = make_recommendation(session, provision_keys=["TIP-6"], version=2)
        before = counts(session)
        r = client.patch(
            f"/v1/recommendations/{rec.id}",
            json={"provision_keys": ["UNTOC-5"]},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        problem(r, 412)
        assert counts(session) == before
        assert_unchanged(session, rec, version=2)
        keys = session.exec(
            select(RecommendationProvision.provision_key).where(
                RecommendationProvision.recommendation_id == rec.id
            )
        ).all()
        assert list(keys) == ["TIP-6"]

    def test_duplicate_code_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        make_recommendation(session, code="R-TAKEN")
        rec = make_recommendation(session, code="R-MINE")
        before = counts(session)
        r = client.patch(
            f"/v1/recommendations/{rec.id}",
            json={"code": "R-TAKEN"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        problem(r, 409)
        assert counts(session) == before
        assert_unchanged(session, rec, code="R-MINE")

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
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        body: dict[str, Any],
        loc: list[str],
    ) -> None:
        rec = make_recommendation(session, provision_keys=["TIP-6"])
        before = counts(session)
        r = client.patch(
            f"/v1/recommendations/{rec.id}",
            json=body,
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert problem(r, 422)["errors"][0]["loc"] == loc
        assert counts(session) == before
        assert_unchanged(session, rec)

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        before = counts(session)
        r = client.patch(
            "/v1/recommendations/424242",
            json={"title": "X"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        problem(r, 404)
        assert counts(session) == before


class TestArchiveRecommendation:
    def test_archive_hides_it_and_is_audited_once(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        rec = make_recommendation(session)
        r = client.post(f"/v1/recommendations/{rec.id}/archive", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["archived_at"] is not None
        event = last_event(session)
        assert (event.action, event.entity_id) == ("recommendation.archived", str(rec.id))
        listed = client.get("/v1/recommendations", headers=headers).json()["items"]
        assert rec.id not in [x["id"] for x in listed]
        everything = client.get("/v1/recommendations?include_archived=true", headers=headers)
        assert rec.id in [x["id"] for x in everything.json()["items"]]
        before = counts(session)
        again = client.post(f"/v1/recommendations/{rec.id}/archive", headers=headers)
        assert again.status_code == 200
        assert counts(session) == before

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        before = counts(session)
        r = client.post(
            "/v1/recommendations/424242/archive", headers=auth(settings, make_user(session))
        )
        problem(r, 404)
        assert counts(session) == before


ENDPOINTS = ["list", "create", "get", "update", "archive"]
WRITES = ["create", "update", "archive"]


def send(
    client: TestClient, endpoint: str, rec: Recommendation, headers: dict[str, str]
) -> Response:
    url = f"/v1/recommendations/{rec.id}"
    match endpoint:
        case "list":
            return client.get("/v1/recommendations", headers=headers)
        case "create":
            body = new_body(code="R-NEW", provision_keys=["TIP-6"])
            return client.post("/v1/recommendations", json=body, headers=headers)
        case "get":
            return client.get(url, headers=headers)
        case "update":
            return client.patch(url, json={"title": "New"}, headers={**headers, "If-Match": '"v1"'})
        case "archive":
            return client.post(f"{url}/archive", headers=headers)
    raise AssertionError(endpoint)


class TestRecommendationAccess:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    def test_bad_credentials_are_401_and_write_nothing(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        rec = make_recommendation(session)
        user = make_user(session)
        before = counts(session)
        for credential in BAD_CREDENTIALS:
            r = send(client, endpoint, rec, bad_auth(settings, user, credential))
            assert r.status_code == 401, f"{credential}: {r.text}"
            problem(r, 401)
            assert counts(session) == before, credential
        assert_unchanged(session, rec, archived_at=None)

    @pytest.mark.parametrize("endpoint", WRITES)
    def test_only_the_secretariat_writes(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        rec = make_recommendation(session)
        callers = {who: headers_as(session, settings, who) for who in NON_SECRETARIAT}
        before = counts(session)
        for who, headers in callers.items():
            r = send(client, endpoint, rec, headers)
            assert r.status_code == 403, f"{who}: {r.text}"
            problem(r, 403)
            assert counts(session) == before, who
        assert_unchanged(session, rec, archived_at=None)

    @pytest.mark.parametrize("endpoint", ["list", "get"])
    def test_everyone_signed_in_reads(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        rec = make_recommendation(session)
        for who in NON_SECRETARIAT:
            headers = headers_as(session, settings, who)
            r = send(client, endpoint, rec, headers)
            assert r.status_code == 200, f"{who}: {r.text}"
            body = r.json()
            assert rec.id in (
                [x["id"] for x in body["items"]] if endpoint == "list" else [body["id"]]
            )
