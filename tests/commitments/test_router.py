"""Government commitments over HTTP."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from tests.assertions import assert_unchanged, last_event, problem, row_counts
from tests.credentials import BAD_CREDENTIALS, NON_SECRETARIAT, auth, bad_auth, headers_as
from tests.factories import make_commitment, make_ministry, make_recommendation, make_user
from vpitracker.config import Settings
from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
    Recommendation,
    utcnow,
)
from vpitracker.vocab import Role


def counts(session: Session) -> tuple[int, ...]:
    return row_counts(session, Commitment, CommitmentRecommendation, CommitmentSupport)


def new_body(lead: Ministry, **fields: Any) -> dict[str, Any]:
    return {
        "code": "GOK-TIP-01",
        "title": "Open two shelters for victims",
        "description": "The Ministry will open two shelters.",
        "lead_ministry_id": lead.id,
        "due_date": "2030-06-30",
        "indicator": "Two shelters open and staffed",
        **fields,
    }


class TestCreateCommitment:
    def test_returns_links_and_fresh_derived_state_and_is_audited(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead, s1, s2 = make_ministry(session), make_ministry(session), make_ministry(session)
        r1, r2 = make_recommendation(session), make_recommendation(session)
        r = client.post(
            "/v1/commitments",
            json=new_body(
                lead,
                recommendation_ids=[r2.id, r1.id],
                supporting_ministry_ids=[s2.id, s1.id],
                committed_on="2026-02-01",
            ),
            headers=auth(settings, make_user(session)),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["Location"] == f"/v1/commitments/{body['id']}"
        assert r.headers["ETag"] == '"v1"'
        assert body["recommendation_ids"] == sorted([r1.id, r2.id])
        assert body["lead_ministry_id"] == lead.id
        assert body["supporting_ministry_ids"] == sorted([s1.id, s2.id])
        assert (body["committed_on"], body["due_date"]) == ("2026-02-01", "2030-06-30")
        derived = {
            k: body[k]
            for k in (
                "reported_status",
                "progress_percent",
                "last_reported_at",
                "verdict",
                "contested",
                "overdue",
            )
        }
        assert derived == {
            "reported_status": "not_started",
            "progress_percent": 0,
            "last_reported_at": None,
            "verdict": "unassessed",
            "contested": False,
            "overdue": False,
        }
        event = last_event(session)
        assert (event.action, event.entity_id) == ("commitment.created", str(body["id"]))
        data = json.loads(event.data)
        assert data["supporting_ministry_ids"] == sorted([s1.id, s2.id])
        assert data["recommendation_ids"] == sorted([r1.id, r2.id])

    def test_committed_on_defaults_to_today_and_is_not_stale(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.post(
            "/v1/commitments",
            json=new_body(make_ministry(session)),
            headers=auth(settings, make_user(session)),
        )
        assert r.status_code == 201, r.text
        assert r.json()["committed_on"] == utcnow().date().isoformat()
        assert (r.json()["stale"], r.json()["recommendation_ids"]) == (False, [])

    def test_duplicate_code_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead = make_ministry(session)
        make_commitment(session, lead=lead, code="GOK-TIP-01")
        before = counts(session)
        r = client.post(
            "/v1/commitments",
            json=new_body(lead, supporting_ministry_ids=[make_ministry(session).id]),
            headers=auth(settings, make_user(session)),
        )
        assert "GOK-TIP-01" in problem(r, 409)["detail"]
        assert counts(session) == before

    @pytest.mark.parametrize(
        ("case", "loc"),
        [
            ("lead_also_supporting", ["body", "supporting_ministry_ids"]),
            ("unknown_lead", ["body", "lead_ministry_id"]),
            ("archived_lead", ["body", "lead_ministry_id"]),
            ("unknown_supporting", ["body", "supporting_ministry_ids"]),
            ("archived_recommendation", ["body", "recommendation_ids"]),
            ("unknown_recommendation", ["body", "recommendation_ids"]),
            ("due_before_committed", ["body"]),
            ("due_in_the_past", ["body", "due_date"]),
            ("bad_date", ["body", "due_date"]),
            ("zero_id", ["body", "lead_ministry_id"]),
            ("derived_field", ["body", "reported_status"]),
            ("unknown_field", ["body", "budget"]),
        ],
    )
    def test_invalid_values_are_422_and_write_nothing(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        case: str,
        loc: list[str],
    ) -> None:
        lead = make_ministry(session)
        archived = make_ministry(session, archived_at=utcnow())
        old_rec = make_recommendation(session, archived_at=utcnow())
        body = new_body(
            lead,
            **{
                "lead_also_supporting": {"supporting_ministry_ids": [lead.id]},
                "unknown_lead": {"lead_ministry_id": 987654},
                "archived_lead": {"lead_ministry_id": archived.id},
                "unknown_supporting": {"supporting_ministry_ids": [987654]},
                "archived_recommendation": {"recommendation_ids": [old_rec.id]},
                "unknown_recommendation": {"recommendation_ids": [987654]},
                "due_before_committed": {"committed_on": "2026-05-01", "due_date": "2026-04-30"},
                "due_in_the_past": {"due_date": "2001-01-01"},
                "bad_date": {"due_date": "2030-02-30"},
                "zero_id": {"lead_ministry_id": 0},
                "derived_field": {"reported_status": "completed"},
                "unknown_field": {"budget": 100},
            }[case],
        )
        before = counts(session)
        r = client.post("/v1/commitments", json=body, headers=auth(settings, make_user(session)))
        assert problem(r, 422)["errors"][0]["loc"] == loc
        assert counts(session) == before


class TestGetCommitment:
    def test_reads_one_with_links(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead, support = make_ministry(session), make_ministry(session)
        rec = make_recommendation(session)
        c = make_commitment(session, lead=lead, supporting=[support], recommendations=[rec])
        r = client.get(f"/v1/commitments/{c.id}", headers=auth(settings, make_user(session)))
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v1"'
        body = r.json()
        assert (body["lead_ministry_id"], body["supporting_ministry_ids"]) == (
            lead.id,
            [support.id],
        )
        assert body["recommendation_ids"] == [rec.id]
        assert (body["reported_status"], body["verdict"]) == ("not_started", "unassessed")

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.get("/v1/commitments/424242", headers=auth(settings, make_user(session)))
        problem(r, 404)

    def test_out_of_range_id_is_422_not_500(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.get(f"/v1/commitments/{2**63}", headers=auth(settings, make_user(session)))
        assert problem(r, 422)["errors"][0]["loc"] == ["path", "commitment_id"]


class TestListCommitments:
    def codes(self, client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
        r = client.get("/v1/commitments", params={"limit": 1000, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return [c["code"] for c in r.json()["items"]]

    def test_filters(self, client: TestClient, session: Session, settings: Settings) -> None:
        headers = auth(settings, make_user(session))
        interior, treasury, judiciary = (make_ministry(session) for _ in range(3))
        tip = make_recommendation(session, provision_keys=["TIP-6"])
        money = make_recommendation(session, provision_keys=["UNTOC-6"])
        make_commitment(
            session,
            code="C-A",
            lead=interior,
            supporting=[treasury],
            recommendations=[tip],
            due_date=date(2027, 1, 31),
        )
        make_commitment(
            session, code="C-B", lead=treasury, recommendations=[money], due_date=date(2028, 6, 30)
        )
        make_commitment(
            session,
            code="C-C",
            lead=judiciary,
            recommendations=[tip, money],
            due_date=date(2029, 12, 31),
        )
        make_commitment(session, code="C-GONE", lead=interior, archived_at=utcnow())

        assert self.codes(client, headers, ministry_id=treasury.id) == ["C-A", "C-B"]
        assert self.codes(client, headers, lead_ministry_id=treasury.id) == ["C-B"]
        assert self.codes(client, headers, ministry_id=interior.id) == ["C-A"]
        assert self.codes(client, headers, recommendation_id=tip.id) == ["C-A", "C-C"]
        assert self.codes(client, headers, due_before="2028-06-30") == ["C-A"]
        assert self.codes(client, headers, due_after="2028-06-30") == ["C-C"]
        assert self.codes(client, headers, due_after="2027-01-31", due_before="2029-12-31") == [
            "C-B"
        ]
        assert self.codes(client, headers, cluster=1) == ["C-B", "C-C"]  # UNTOC-6 is cluster 1
        assert self.codes(client, headers, instrument="trafficking_protocol") == ["C-A", "C-C"]
        assert self.codes(client, headers, instrument="firearms_protocol") == []
        assert self.codes(client, headers, q="c-b") == ["C-B"]
        assert self.codes(client, headers, reported_status="not_started") == ["C-A", "C-B", "C-C"]
        assert self.codes(client, headers, verdict="unassessed", overdue="false") == [
            "C-A",
            "C-B",
            "C-C",
        ]
        assert self.codes(client, headers, ministry_id=interior.id, include_archived="true") == [
            "C-A",
            "C-GONE",
        ]

    def test_sorts_ascending_and_descending(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        lead = make_ministry(session)
        make_commitment(session, code="C-2", lead=lead, due_date=date(2029, 1, 1))
        make_commitment(session, code="C-3", lead=lead, due_date=date(2027, 1, 1))
        make_commitment(session, code="C-1", lead=lead, due_date=date(2029, 1, 1))
        assert self.codes(client, headers) == ["C-2", "C-3", "C-1"]
        assert self.codes(client, headers, sort="code") == ["C-1", "C-2", "C-3"]
        assert self.codes(client, headers, sort="-code") == ["C-3", "C-2", "C-1"]
        # Ties on the sort key are broken by id, in the same direction.
        assert self.codes(client, headers, sort="due_date") == ["C-3", "C-2", "C-1"]
        assert self.codes(client, headers, sort="-due_date") == ["C-1", "C-2", "C-3"]

    @pytest.mark.parametrize(
        "params",
        [
            {"sort": "title"},
            {"sort": "--due_date"},
            {"due_before": "soon"},
            {"cluster": 9},
            {"instrument": "treaty"},
            {"reported_status": "done"},
            {"include_archived": "maybe"},
        ],
    )
    def test_invalid_query_is_422(
        self, client: TestClient, session: Session, settings: Settings, params: dict[str, Any]
    ) -> None:
        r = client.get("/v1/commitments", params=params, headers=auth(settings, make_user(session)))
        (name,) = params
        assert problem(r, 422)["errors"][0]["loc"] == ["query", name]


class TestUpdateCommitment:
    def test_patch_changes_fields_and_links_and_audits(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead, old_support, new_support = (make_ministry(session) for _ in range(3))
        rec = make_recommendation(session)
        c = make_commitment(session, lead=lead, supporting=[old_support], title="Old")
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json={
                "title": "New",
                "supporting_ministry_ids": [new_support.id],
                "recommendation_ids": [rec.id],
            },
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v2"'
        body = r.json()
        assert (body["title"], body["supporting_ministry_ids"], body["recommendation_ids"]) == (
            "New",
            [new_support.id],
            [rec.id],
        )
        event = last_event(session)
        assert (event.action, event.entity_id) == ("commitment.updated", str(c.id))
        assert json.loads(event.data) == {
            "title": {"old": "Old", "new": "New"},
            "supporting_ministry_ids": {"old": [old_support.id], "new": [new_support.id]},
            "recommendation_ids": {"old": [], "new": [rec.id]},
        }

    def test_without_if_match_is_428_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        c = make_commitment(session, lead=make_ministry(session), title="Kept")
        before = counts(session)
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json={"title": "Lost"},
            headers=auth(settings, make_user(session)),
        )
        problem(r, 428)
        assert counts(session) == before
        assert_unchanged(session, c, title="Kept")

    def test_stale_etag_is_412_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        c = make_commitment(session, lead=make_ministry(session), title="First")
        ok = client.patch(
            f"/v1/commitments/{c.id}",
            json={"title": "Second"},
            headers={**headers, "If-Match": '"v1"'},
        )
        assert ok.status_code == 200, ok.text
        before = counts(session)
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json={"title": "Third"},
            headers={**headers, "If-Match": '"v1"'},
        )
        problem(r, 412)
        assert counts(session) == before
        assert_unchanged(session, c, title="Second", version=2)

    def test_duplicate_code_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead = make_ministry(session)
        make_commitment(session, lead=lead, code="C-TAKEN")
        c = make_commitment(session, lead=lead, code="C-MINE")
        before = counts(session)
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json={"code": "C-TAKEN"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        problem(r, 409)
        assert counts(session) == before
        assert_unchanged(session, c, code="C-MINE")

    @pytest.mark.parametrize(
        ("case", "loc"),
        [
            ("null_title", ["body", "title"]),
            ("lead_also_supporting", ["body", "supporting_ministry_ids"]),
            ("due_before_committed", ["body", "due_date"]),
            ("archived_lead", ["body", "lead_ministry_id"]),
            ("unknown_field", ["body", "archived_at"]),
        ],
    )
    def test_invalid_values_are_422_and_write_nothing(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        case: str,
        loc: list[str],
    ) -> None:
        lead, support = make_ministry(session), make_ministry(session)
        archived = make_ministry(session, archived_at=utcnow())
        c = make_commitment(
            session, lead=lead, supporting=[support], committed_on=date(2026, 1, 1), title="Kept"
        )
        body = {
            "null_title": {"title": None},
            "lead_also_supporting": {"lead_ministry_id": support.id},
            "due_before_committed": {"due_date": "2025-12-31"},
            "archived_lead": {"lead_ministry_id": archived.id},
            "unknown_field": {"archived_at": None},
        }[case]
        before = counts(session)
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json=body,
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        assert problem(r, 422)["errors"][0]["loc"] == loc
        assert counts(session) == before
        assert_unchanged(session, c, title="Kept", lead_ministry_id=lead.id)

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        before = counts(session)
        r = client.patch(
            "/v1/commitments/424242",
            json={"title": "X"},
            headers={**auth(settings, make_user(session)), "If-Match": '"v1"'},
        )
        problem(r, 404)
        assert counts(session) == before


class TestArchiveCommitment:
    def test_archive_hides_it_and_is_audited_once(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        c = make_commitment(session, lead=make_ministry(session))
        r = client.post(f"/v1/commitments/{c.id}/archive", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["archived_at"] is not None
        event = last_event(session)
        assert (event.action, event.entity_id) == ("commitment.archived", str(c.id))
        listed = client.get("/v1/commitments", headers=headers).json()["items"]
        assert c.id not in [x["id"] for x in listed]
        everything = client.get("/v1/commitments?include_archived=true", headers=headers)
        assert c.id in [x["id"] for x in everything.json()["items"]]
        before = counts(session)
        again = client.post(f"/v1/commitments/{c.id}/archive", headers=headers)
        assert again.status_code == 200
        assert counts(session) == before

    def test_unknown_id_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        before = counts(session)
        r = client.post(
            "/v1/commitments/424242/archive", headers=auth(settings, make_user(session))
        )
        problem(r, 404)
        assert counts(session) == before


ENDPOINTS = ["list", "create", "get", "update", "archive"]
WRITES = ["create", "update", "archive"]


def send(
    client: TestClient,
    endpoint: str,
    commitment: Commitment,
    rec: Recommendation,
    headers: dict[str, str],
) -> Response:
    url = f"/v1/commitments/{commitment.id}"
    match endpoint:
        case "list":
            return client.get("/v1/commitments", headers=headers)
        case "create":
            body = {
                "code": "C-NEW",
                "title": "T",
                "description": "D",
                "lead_ministry_id": commitment.lead_ministry_id,
                "recommendation_ids": [rec.id],
                "due_date": "2031-01-01",
                "indicator": "I",
            }
            return client.post("/v1/commitments", json=body, headers=headers)
        case "get":
            return client.get(url, headers=headers)
        case "update":
            return client.patch(url, json={"title": "New"}, headers={**headers, "If-Match": '"v1"'})
        case "archive":
            return client.post(f"{url}/archive", headers=headers)
    raise AssertionError(endpoint)


class TestCommitmentAccess:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    def test_bad_credentials_are_401_and_write_nothing(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        c = make_commitment(session, lead=make_ministry(session))
        rec = make_recommendation(session)
        user = make_user(session)
        before = counts(session)
        for credential in BAD_CREDENTIALS:
            r = send(client, endpoint, c, rec, bad_auth(settings, user, credential))
            assert r.status_code == 401, f"{credential}: {r.text}"
            problem(r, 401)
            assert counts(session) == before, credential
        assert_unchanged(session, c, archived_at=None)

    @pytest.mark.parametrize("endpoint", WRITES)
    def test_only_the_secretariat_writes(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        c = make_commitment(session, lead=make_ministry(session))
        rec = make_recommendation(session)
        callers = {who: headers_as(session, settings, who) for who in NON_SECRETARIAT}
        before = counts(session)
        for who, headers in callers.items():
            r = send(client, endpoint, c, rec, headers)
            assert r.status_code == 403, f"{who}: {r.text}"
            problem(r, 403)
            assert counts(session) == before, who
        assert_unchanged(session, c, archived_at=None)

    def test_an_officer_of_the_lead_ministry_may_not_edit_it_either(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead = make_ministry(session)
        c = make_commitment(session, lead=lead)
        officer = make_user(session, Role.government_officer, ministries=[lead])
        before = counts(session)
        r = send(client, "update", c, make_recommendation(session), auth(settings, officer))
        problem(r, 403)
        assert counts(session) == before
        assert_unchanged(session, c)

    @pytest.mark.parametrize("endpoint", ["list", "get"])
    def test_everyone_signed_in_reads(
        self, client: TestClient, session: Session, settings: Settings, endpoint: str
    ) -> None:
        c = make_commitment(session, lead=make_ministry(session))
        for who in NON_SECRETARIAT:
            headers = headers_as(session, settings, who)
            r = send(client, endpoint, c, make_recommendation(session), headers)
            assert r.status_code == 200, f"{who}: {r.text}"
            body = r.json()
            assert c.id in (
                [x["id"] for x in body["items"]] if endpoint == "list" else [body["id"]]
            )
