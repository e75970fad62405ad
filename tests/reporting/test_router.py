"""Status updates and assessments over HTTP (docs/concepts.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem, row_counts
from tests.credentials import auth, headers_as
from tests.factories import (
    assessment_body,
    make_assessment,
    make_commitment,
    make_ministry,
    make_update,
    make_user,
    status_update_body,
)
from vpitracker.config import Settings
from vpitracker.models import Assessment, Commitment, StatusUpdate, User, utcnow
from vpitracker.vocab import Role


def updates_url(commitment: Commitment) -> str:
    return f"/v1/commitments/{commitment.id}/status-updates"


def assessments_url(commitment: Commitment) -> str:
    return f"/v1/commitments/{commitment.id}/assessments"


def written(session: Session) -> tuple[int, ...]:
    """Status updates, assessments and audit events stored so far."""
    return row_counts(session, StatusUpdate, Assessment)


def post_update(
    client: TestClient, settings: Settings, who: User, commitment: Commitment, **fields: Any
) -> Any:
    return client.post(
        updates_url(commitment), json=status_update_body(**fields), headers=auth(settings, who)
    )


def links(count: int) -> list[dict[str, str]]:
    return [{"url": f"https://example.org/doc/{i}", "title": f"Document {i}"} for i in range(count)]


class TestPostStatusUpdate:
    def test_officer_posts_for_his_lead_ministry_with_location(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        moi = make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[moi])
        commitment = make_commitment(session, lead=moi)
        evidence = [{"url": "https://kenyalaw.org/gazette.pdf", "title": "Gazette notice"}]
        before = utcnow()

        r = post_update(client, settings, officer, commitment, evidence=evidence)

        assert r.status_code == 201, r.text
        body = r.json()
        assert body["commitment_id"] == commitment.id
        assert body["ministry_id"] == moi.id
        assert body["reported_by"] == officer.id
        assert body["status"] == "in_progress"
        assert body["progress_percent"] == 40
        assert body["evidence"] == evidence
        assert body["imported"] is False
        reported_at = datetime.fromisoformat(body["reported_at"])
        assert before - timedelta(seconds=1) <= reported_at <= utcnow() + timedelta(seconds=1)
        assert r.headers["Location"] == f"/v1/status-updates/{body['id']}"
        fetched = client.get(r.headers["Location"], headers=auth(settings, officer))
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == body

    def test_officer_of_a_supporting_ministry_posts_for_it(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead, support = make_ministry(session), make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[support])
        commitment = make_commitment(session, lead=lead, supporting=[support])

        r = post_update(client, settings, officer, commitment)

        assert r.status_code == 201, r.text
        assert r.json()["ministry_id"] == support.id
        stored = session.get(StatusUpdate, r.json()["id"])
        assert stored is not None
        assert stored.ministry_id == support.id

    def test_officer_names_which_of_his_ministries_he_reports_for(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead, support = make_ministry(session), make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[lead, support])
        commitment = make_commitment(session, lead=lead, supporting=[support])

        r = post_update(client, settings, officer, commitment, ministry_id=support.id)

        assert r.status_code == 201, r.text
        assert r.json()["ministry_id"] == support.id

    def test_secretariat_posts_for_the_lead_ministry(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        lead = make_ministry(session)
        sec = make_user(session, Role.secretariat)
        commitment = make_commitment(session, lead=lead)

        r = post_update(client, settings, sec, commitment)

        assert r.status_code == 201, r.text
        assert (r.json()["ministry_id"], r.json()["reported_by"]) == (lead.id, sec.id)

    def test_anonymous_is_401(self, client: TestClient, session: Session) -> None:
        commitment = make_commitment(session, lead=make_ministry(session))

        problem(client.post(updates_url(commitment), json=status_update_body()), 401)

    def test_twenty_evidence_links_are_accepted(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        commitment = make_commitment(session, lead=make_ministry(session))

        r = post_update(client, settings, sec, commitment, evidence=links(20))

        assert r.status_code == 201, r.text
        assert len(r.json()["evidence"]) == 20

    def test_reply_to_a_dispute_on_this_commitment_is_recorded(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        moi = make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[moi])
        member = make_user(session, Role.alliance_member)
        commitment = make_commitment(session, lead=moi)
        dispute = make_assessment(
            session, commitment, by=member, at=utcnow() - timedelta(days=1), verdict="disputes"
        )

        r = post_update(client, settings, officer, commitment, in_reply_to_assessment_id=dispute.id)

        assert r.status_code == 201, r.text
        assert r.json()["in_reply_to_assessment_id"] == dispute.id

    def test_reply_to_an_assessment_of_another_commitment_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        moi = make_ministry(session)
        officer = make_user(session, Role.government_officer, ministries=[moi])
        member = make_user(session, Role.alliance_member)
        mine, other = make_commitment(session, lead=moi), make_commitment(session, lead=moi)
        elsewhere = make_assessment(session, other, by=member, at=utcnow(), verdict="disputes")
        before = written(session)

        r = post_update(client, settings, officer, mine, in_reply_to_assessment_id=elsewhere.id)

        body = problem(r, 422)
        assert body["errors"][0]["loc"] == ["body", "in_reply_to_assessment_id"]
        assert written(session) == before

    def test_unknown_commitment_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)

        r = client.post(
            "/v1/commitments/999999/status-updates",
            json=status_update_body(),
            headers=auth(settings, sec),
        )

        problem(r, 404)


class TestPostAssessment:
    @pytest.mark.parametrize("role", [Role.alliance_member, Role.secretariat])
    def test_alliance_posts_with_location(
        self, client: TestClient, session: Session, settings: Settings, role: Role
    ) -> None:
        assessor = make_user(session, role)
        officer_ministry = make_ministry(session)
        commitment = make_commitment(session, lead=officer_ministry)
        sec = make_user(session, Role.secretariat)
        update = post_update(client, settings, sec, commitment).json()

        r = client.post(
            assessments_url(commitment),
            json=assessment_body(status_update_id=update["id"], verdict="disputes"),
            headers=auth(settings, assessor),
        )

        assert r.status_code == 201, r.text
        body = r.json()
        assert body["commitment_id"] == commitment.id
        assert body["status_update_id"] == update["id"]
        assert (body["verdict"], body["assessed_by"]) == ("disputes", assessor.id)
        assert body["imported"] is False
        assert r.headers["Location"] == f"{assessments_url(commitment)}/{body['id']}"
        fetched = client.get(r.headers["Location"], headers=auth(settings, assessor))
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == body

    def test_status_update_of_another_commitment_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member, sec = make_user(session, Role.alliance_member), make_user(session, Role.secretariat)
        moi = make_ministry(session)
        mine, other = make_commitment(session, lead=moi), make_commitment(session, lead=moi)
        foreign = post_update(client, settings, sec, other).json()
        before = written(session)

        r = client.post(
            assessments_url(mine),
            json=assessment_body(status_update_id=foreign["id"]),
            headers=auth(settings, member),
        )

        body = problem(r, 422)
        assert body["errors"][0]["loc"] == ["body", "status_update_id"]
        assert written(session) == before


def evidence(url: str) -> dict[str, Any]:
    return {"evidence": [{"url": url, "title": "x"}]}


# Bodies each kind refuses with 422: more than twenty evidence links, evidence that is
# not http(s), and a status update "completed" at less than 100 per cent.
REFUSED_BODIES = [
    ("status-updates", {"evidence": links(21)}),
    ("status-updates", evidence("ftp://example.org/report.pdf")),
    ("status-updates", evidence("javascript:alert(1)")),
    ("status-updates", evidence("file:///etc/passwd")),
    ("status-updates", {"status": "completed", "progress_percent": 90}),
    ("assessments", evidence("ftp://example.org/a.pdf")),
    ("assessments", evidence("javascript:alert(1)")),
    ("assessments", {"evidence": links(21)}),
]


# A refused post: its kind, who posts, to which commitment, and the body's own fields.
Refused = tuple[str, User, Commitment, dict[str, Any]]


def officer_of_another_ministry(session: Session) -> Refused:
    mine, theirs = make_ministry(session), make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[mine])
    return "status-updates", officer, make_commitment(session, lead=theirs), {}


def officer_naming_a_ministry_on_the_commitment_not_his(session: Session) -> Refused:
    lead, support = make_ministry(session), make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[support])
    commitment = make_commitment(session, lead=lead, supporting=[support])
    return "status-updates", officer, commitment, {"ministry_id": lead.id}


def officer_naming_his_ministry_not_on_the_commitment(session: Session) -> Refused:
    lead, elsewhere = make_ministry(session), make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[lead, elsewhere])
    commitment = make_commitment(session, lead=lead)
    return "status-updates", officer, commitment, {"ministry_id": elsewhere.id}


def update_of_an_archived_commitment(session: Session) -> Refused:
    moi = make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[moi])
    return "status-updates", officer, make_commitment(session, lead=moi, archived_at=utcnow()), {}


def assessment_by_the_lead_ministrys_officer(session: Session) -> Refused:
    moi = make_ministry(session)
    officer = make_user(session, Role.government_officer, ministries=[moi])
    return "assessments", officer, make_commitment(session, lead=moi), {}


def assessment_of_an_archived_commitment(session: Session) -> Refused:
    member = make_user(session, Role.alliance_member)
    commitment = make_commitment(session, lead=make_ministry(session), archived_at=utcnow())
    return "assessments", member, commitment, {}


def poster(session: Session, kind: str) -> User:
    """Who may post ``kind``: the secretariat an update, an alliance member an assessment."""
    return make_user(
        session, Role.secretariat if kind == "status-updates" else Role.alliance_member
    )


def body_of(kind: str, **fields: Any) -> dict[str, Any]:
    return status_update_body(**fields) if kind == "status-updates" else assessment_body(**fields)


def refused_body(kind: str, fields: dict[str, Any]) -> Callable[[Session], Refused]:
    """A body ``kind`` refuses, posted by who may post it."""

    def case(session: Session) -> Refused:
        commitment = make_commitment(session, lead=make_ministry(session))
        return kind, poster(session, kind), commitment, fields

    return case


REFUSED_POSTS = [
    pytest.param(officer_of_another_ministry, 403, id="officer-of-another-ministry"),
    pytest.param(officer_naming_a_ministry_on_the_commitment_not_his, 403, id="not-his"),
    pytest.param(officer_naming_his_ministry_not_on_the_commitment, 403, id="not-on-it"),
    pytest.param(update_of_an_archived_commitment, 409, id="update-archived"),
    pytest.param(assessment_by_the_lead_ministrys_officer, 403, id="assessed-by-the-lead"),
    pytest.param(assessment_of_an_archived_commitment, 409, id="assessment-archived"),
    *(
        pytest.param(refused_body(kind, fields), 422, id=f"{kind}-body-{i}")
        for i, (kind, fields) in enumerate(REFUSED_BODIES)
    ),
]


# Who may read each kind but not post it.
READERS_ONLY = [
    *(("status-updates", who) for who in ("alliance_member", "viewer", "api_key")),
    *(("assessments", who) for who in ("government_officer", "viewer", "api_key")),
]

# Fields each kind's server sets, with a value a client might send.
SERVER_SET = [
    ("status-updates", "reported_by", 1),
    ("status-updates", "reported_at", "2020-01-01T00:00:00Z"),
    ("status-updates", "imported", True),
    ("status-updates", "id", 999),
    ("assessments", "assessed_by", 1),
    ("assessments", "assessed_at", "2020-01-01T00:00:00Z"),
]


class TestRefusedPosts:
    @pytest.mark.parametrize(("case", "code"), REFUSED_POSTS)
    def test_nothing_is_written(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        case: Callable[[Session], Refused],
        code: int,
    ) -> None:
        kind, who, commitment, fields = case(session)
        before = written(session)

        r = client.post(
            f"/v1/commitments/{commitment.id}/{kind}",
            json=body_of(kind, **fields),
            headers=auth(settings, who),
        )

        problem(r, code)
        assert written(session) == before

    @pytest.mark.parametrize(("kind", "who"), READERS_ONLY)
    def test_readers_who_may_not_post_are_403_and_nothing_is_written(
        self, client: TestClient, session: Session, settings: Settings, kind: str, who: str
    ) -> None:
        commitment = make_commitment(session, lead=make_ministry(session))
        headers = headers_as(session, settings, who)
        url = f"/v1/commitments/{commitment.id}/{kind}"
        before = written(session)

        r = client.post(url, json=body_of(kind), headers=headers)

        problem(r, 403)
        assert written(session) == before
        assert client.get(url, headers=headers).status_code == 200

    @pytest.mark.parametrize(("kind", "field", "value"), SERVER_SET)
    def test_fields_the_server_sets_are_422_and_nothing_is_written(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        kind: str,
        field: str,
        value: Any,
    ) -> None:
        who = poster(session, kind)
        commitment = make_commitment(session, lead=make_ministry(session))
        before = written(session)

        r = client.post(
            f"/v1/commitments/{commitment.id}/{kind}",
            json=body_of(kind, **{field: value}),
            headers=auth(settings, who),
        )

        body = problem(r, 422)
        assert ["body", field] in [e["loc"] for e in body["errors"]]
        assert written(session) == before


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2021, 3, day, hour, tzinfo=UTC)


class TestListStatusUpdates:
    def test_a_commitments_updates_come_newest_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        commitment = make_commitment(session, lead=make_ministry(session))
        other = make_commitment(session, lead=make_ministry(session))
        middle = make_update(session, commitment, by=sec, at=at(10))
        newest = make_update(session, commitment, by=sec, at=at(20))
        oldest = make_update(session, commitment, by=sec, at=at(1))
        make_update(session, other, by=sec, at=at(15))

        r = client.get(updates_url(commitment), headers=auth(settings, sec))

        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()["items"]] == [newest.id, middle.id, oldest.id]
        assert r.json()["next_cursor"] is None

    def test_unknown_commitment_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)

        problem(
            client.get("/v1/commitments/999999/status-updates", headers=auth(settings, sec)), 404
        )

    def test_all_updates_filter_by_ministry_reporter_and_since(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        ministry_a, ministry_b = make_ministry(session), make_ministry(session)
        officer_a = make_user(session, Role.government_officer, ministries=[ministry_a])
        officer_b = make_user(session, Role.government_officer, ministries=[ministry_b])
        commitment = make_commitment(session, lead=ministry_a, supporting=[ministry_b])
        a_old = make_update(session, commitment, by=officer_a, at=at(1))
        a_new = make_update(session, commitment, by=officer_a, at=at(9))
        b_mid = make_update(session, commitment, by=officer_b, at=at(5), ministry_id=ministry_b.id)
        headers = auth(settings, officer_a)

        def ids(**params: Any) -> list[int]:
            r = client.get("/v1/status-updates", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return [u["id"] for u in r.json()["items"]]

        assert ids(ministry_id=ministry_a.id) == [a_new.id, a_old.id]
        assert ids(ministry_id=ministry_b.id) == [b_mid.id]
        assert ids(reported_by=officer_b.id) == [b_mid.id]
        assert ids(ministry_id=ministry_a.id, since="2021-03-05T00:00:00Z") == [a_new.id]
        assert set(ids(reported_by=officer_a.id, since="2021-03-01T12:00:00Z")) == {
            a_new.id,
            a_old.id,
        }

    @pytest.mark.parametrize(
        "since",
        ["2021-03-05T00:00:00Z", "2021-03-05T03:00:00+03:00", "2021-03-05T00:00:00"],
    )
    def test_since_is_utc_unless_an_offset_is_given(
        self, client: TestClient, session: Session, settings: Settings, since: str
    ) -> None:
        sec = make_user(session, Role.secretariat)
        ministry = make_ministry(session)
        commitment = make_commitment(session, lead=ministry)
        make_update(session, commitment, by=sec, at=datetime(2021, 3, 4, 23, 59, tzinfo=UTC))
        on_time = make_update(session, commitment, by=sec, at=datetime(2021, 3, 5, tzinfo=UTC))

        r = client.get(
            "/v1/status-updates",
            params={"ministry_id": ministry.id, "since": since},
            headers=auth(settings, sec),
        )

        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()["items"]] == [on_time.id]

    def test_cursor_pagination_returns_each_update_once_newest_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        ministry = make_ministry(session)
        commitment = make_commitment(session, lead=ministry)
        # Two updates share a timestamp: the id breaks the tie.
        made = [make_update(session, commitment, by=sec, at=at(d)) for d in (3, 1, 4, 1, 5)]
        expected = [u.id for u in sorted(made, key=lambda u: (u.reported_at, u.id), reverse=True)]
        seen: list[int] = []
        params: dict[str, Any] = {"ministry_id": ministry.id, "limit": 2}
        pages = 0
        while True:
            r = client.get("/v1/status-updates", params=params, headers=auth(settings, sec))
            assert r.status_code == 200, r.text
            pages += 1
            page = r.json()
            seen += [u["id"] for u in page["items"]]
            if page["next_cursor"] is None:
                assert "Link" not in r.headers
                break
            assert 'rel="next"' in r.headers["Link"]
            params["cursor"] = page["next_cursor"]

        assert seen == expected
        assert pages == 3


class TestListAssessments:
    def test_a_commitments_assessments_come_newest_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member)
        commitment = make_commitment(session, lead=make_ministry(session))
        older = make_assessment(session, commitment, by=member, at=at(2))
        newer = make_assessment(session, commitment, by=member, at=at(8), verdict="disputes")

        r = client.get(assessments_url(commitment), headers=auth(settings, member))

        assert r.status_code == 200, r.text
        assert [a["id"] for a in r.json()["items"]] == [newer.id, older.id]
        assert r.json()["items"][0]["verdict"] == "disputes"


class TestReadOne:
    def test_an_unknown_status_update_is_404(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)

        problem(client.get("/v1/status-updates/999999", headers=auth(settings, sec)), 404)

    def test_an_assessment_is_only_found_under_its_own_commitment(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member = make_user(session, Role.alliance_member)
        moi = make_ministry(session)
        mine, other = make_commitment(session, lead=moi), make_commitment(session, lead=moi)
        assessment = make_assessment(session, mine, by=member, at=at(3))
        headers = auth(settings, member)

        found = client.get(f"{assessments_url(mine)}/{assessment.id}", headers=headers)
        assert found.status_code == 200, found.text
        assert found.json()["id"] == assessment.id
        problem(client.get(f"{assessments_url(other)}/{assessment.id}", headers=headers), 404)
