"""Government commitments over HTTP."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import assert_unchanged, last_event, problem, row_counts
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_recommendation, make_user, pk
from tests.resources import ContextMaker
from vpitracker.config import Settings
from vpitracker.models import (
    Commitment,
    CommitmentRecommendation,
    CommitmentSupport,
    Ministry,
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
        assert body["recommendation_ids"] == sorted([pk(r1), pk(r2)])
        assert body["lead_ministry_id"] == lead.id
        assert body["supporting_ministry_ids"] == sorted([pk(s1), pk(s2)])
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
        assert data["supporting_ministry_ids"] == sorted([pk(s1), pk(s2)])
        assert data["recommendation_ids"] == sorted([pk(r1), pk(r2)])

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
        self, make_context: ContextMaker, case: str, loc: list[str]
    ) -> None:
        ctx = make_context("commitments")
        session = ctx.session
        lead = make_ministry(session)
        archived = make_ministry(session, archived_at=utcnow())
        old_rec = make_recommendation(session, archived_at=utcnow())
        changes: dict[str, dict[str, Any]] = {
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
        }
        body = new_body(lead, **changes[case])
        with ctx.unchanged():
            assert problem(ctx.post(body), 422)["errors"][0]["loc"] == loc


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
        self, make_context: ContextMaker, case: str, loc: list[str]
    ) -> None:
        ctx = make_context("commitments")
        session = ctx.session
        lead, support = make_ministry(session), make_ministry(session)
        archived = make_ministry(session, archived_at=utcnow())
        c = make_commitment(
            session, lead=lead, supporting=[support], committed_on=date(2026, 1, 1), title="Kept"
        )
        changes: dict[str, dict[str, Any]] = {
            "null_title": {"title": None},
            "lead_also_supporting": {"lead_ministry_id": support.id},
            "due_before_committed": {"due_date": "2025-12-31"},
            "archived_lead": {"lead_ministry_id": archived.id},
            "unknown_field": {"archived_at": None},
        }
        with ctx.unchanged(c):
            assert problem(ctx.patch(c, changes[case]), 422)["errors"][0]["loc"] == loc


class TestCommitmentAccess:
    def test_an_officer_of_the_lead_ministry_may_not_edit_it_either(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead = make_ministry(session)
        c = make_commitment(session, lead=lead)
        officer = make_user(session, Role.government_officer, ministries=[lead])
        before = counts(session)
        r = client.patch(
            f"/v1/commitments/{c.id}",
            json={"title": "New"},
            headers={**auth(settings, officer), "If-Match": '"v1"'},
        )
        problem(r, 403)
        assert counts(session) == before
        assert_unchanged(session, c)
