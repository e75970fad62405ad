"""The change feed for incremental sync: ``GET /v1/changes?cursor=`` (docs/concepts.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tests.assertions import problem
from tests.credentials import auth, headers_as
from tests.factories import PASSWORD, assessment_body, make_api_key, make_user, status_update_body
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry, User
from vpitracker.vocab import Role

Change = tuple[str, str, str]  # (entity_type, entity_id, action)


class Feed:
    """A secretariat that makes changes over the API and a reader that polls the feed."""

    def __init__(self, client: TestClient, session: Session, settings: Settings) -> None:
        self.client = client
        self.session = session
        self.settings = settings
        self.secretariat: User = make_user(session, Role.secretariat)
        self.admin = auth(settings, self.secretariat)
        self.reader = auth(settings, make_user(session, Role.alliance_member))
        self._n = 0

    def poll(self, cursor: str | None = None, **params: Any) -> dict[str, Any]:
        query = {"cursor": cursor, **params} if cursor is not None else params
        r = self.client.get("/v1/changes", params=query, headers=self.reader)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert isinstance(body["next_cursor"], str), body
        assert body["next_cursor"] != ""
        return body

    def head(self) -> str:
        """A cursor after everything that happened so far."""
        cursor: str | None = None
        while True:
            body = self.poll(cursor, limit=1000)
            cursor = body["next_cursor"]
            if not body["items"]:
                return cursor

    # changes, each returning what the feed should show for it

    def _code(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        r = self.client.post(path, json=body, headers=headers or self.admin)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def ministry(self) -> tuple[int, Change]:
        m = self.post(
            "/v1/ministries", {"code": self._code("FEED"), "name": "Feed", "kind": "agency"}
        )
        return m["id"], ("ministry", str(m["id"]), "ministry.created")

    def rename(self, ministry_id: int, name: str) -> Change:
        etag = self.client.get(f"/v1/ministries/{ministry_id}", headers=self.admin).headers["ETag"]
        r = self.client.patch(
            f"/v1/ministries/{ministry_id}",
            json={"name": name},
            headers={**self.admin, "If-Match": etag},
        )
        assert r.status_code == 200, r.text
        return ("ministry", str(ministry_id), "ministry.updated")

    def recommendation(self) -> tuple[int, Change]:
        rec = self.post(
            "/v1/recommendations",
            {
                "code": self._code("VPI-FEED-"),
                "title": "Protect victims",
                "text": "Shelters in every county",
                "source": "VPI Kenya",
                "provision_keys": ["TIP-6"],
            },
        )
        return rec["id"], ("recommendation", str(rec["id"]), "recommendation.created")

    def commitment(self, lead: int, recommendation: int) -> tuple[int, Change]:
        c = self.post(
            "/v1/commitments",
            {
                "code": self._code("GOK-FEED-"),
                "title": "Open shelters",
                "description": "Three shelters",
                "lead_ministry_id": lead,
                "recommendation_ids": [recommendation],
                "due_date": "2030-06-30",
                "indicator": "Shelters open",
            },
        )
        return c["id"], ("commitment", str(c["id"]), "commitment.created")

    def archive(self, kind: str, record_id: int) -> Change:
        collection = {"ministry": "ministries"}.get(kind, f"{kind}s")
        self.post(f"/v1/{collection}/{record_id}/archive", {})
        return (kind, str(record_id), f"{kind}.archived")


@pytest.fixture
def feed(client: TestClient, session: Session, settings: Settings) -> Feed:
    return Feed(client, session, settings)


def changes(body: dict[str, Any]) -> list[Change]:
    return [(c["entity_type"], c["entity_id"], c["action"]) for c in body["items"]]


class TestFeed:
    def test_changes_after_the_cursor_come_oldest_first(
        self, feed: Feed, session: Session, settings: Settings
    ) -> None:
        start = feed.head()
        ministry_id, created = feed.ministry()
        renamed = feed.rename(ministry_id, "Feed, renamed")
        rec_id, rec_created = feed.recommendation()
        commitment_id, commitment_created = feed.commitment(ministry_id, rec_id)
        officer = make_user(
            session, Role.government_officer, ministries=[session.get_one(Ministry, ministry_id)]
        )
        update = feed.post(
            f"/v1/commitments/{commitment_id}/status-updates",
            status_update_body(),
            headers=auth(settings, officer),
        )
        assessment = feed.post(
            f"/v1/commitments/{commitment_id}/assessments", assessment_body(), headers=feed.reader
        )

        body = feed.poll(start)

        assert changes(body) == [
            created,
            renamed,
            rec_created,
            commitment_created,
            ("status_update", str(update["id"]), "status_update.posted"),
            ("assessment", str(assessment["id"]), "assessment.posted"),
        ]
        seqs = [c["seq"] for c in body["items"]]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        instants = [datetime.fromisoformat(c["at"].replace("Z", "+00:00")) for c in body["items"]]
        assert all(c["at"].endswith("Z") for c in body["items"])
        assert instants == sorted(instants)
        assert set(body["items"][0]) >= {"entity_type", "entity_id", "action", "at"}

    def test_next_cursor_is_never_null_and_polling_sees_only_newer_changes(
        self, feed: Feed
    ) -> None:
        cursor = feed.head()

        quiet = feed.poll(cursor)
        assert quiet["items"] == []
        assert quiet["next_cursor"] == cursor

        ministry_id, created = feed.ministry()
        first = feed.poll(cursor)
        assert changes(first) == [created]
        assert int(first["next_cursor"]) > int(cursor)

        renamed = feed.rename(ministry_id, "Second name")
        second = feed.poll(first["next_cursor"])
        assert changes(second) == [renamed]

        again = feed.poll(second["next_cursor"])
        assert again["items"] == []
        assert again["next_cursor"] == second["next_cursor"]

    def test_a_new_reader_without_a_cursor_starts_from_the_beginning(self, feed: Feed) -> None:
        _, created = feed.ministry()

        body = feed.poll(limit=1000)
        everything = changes(body)
        while body["items"]:
            body = feed.poll(body["next_cursor"], limit=1000)
            everything += changes(body)

        assert created in everything
        assert isinstance(body["next_cursor"], str)

    def test_small_pages_return_every_change_once_in_order(self, feed: Feed) -> None:
        start = feed.head()
        made = [feed.ministry()[1] for _ in range(5)]

        seen: list[Change] = []
        cursor = start
        for _ in range(10):
            body = feed.poll(cursor, limit=2)
            assert len(body["items"]) <= 2
            seen += changes(body)
            assert body["next_cursor"] is not None
            if not body["items"]:
                break
            cursor = body["next_cursor"]

        assert seen == made

    def test_archived_records_appear_as_archived(self, feed: Feed) -> None:
        lead, _ = feed.ministry()
        spare, _ = feed.ministry()
        rec_id, _ = feed.recommendation()
        commitment_id, _ = feed.commitment(lead, rec_id)
        cursor = feed.head()

        expected = [
            feed.archive("commitment", commitment_id),
            feed.archive("recommendation", rec_id),
            feed.archive("ministry", spare),
        ]

        assert changes(feed.poll(cursor)) == expected
        # The archived records are gone from the default lists, not from the feed.
        listed = feed.client.get("/v1/commitments", headers=feed.reader).json()["items"]
        assert commitment_id not in {c["id"] for c in listed}

    def test_failed_sign_ins_are_not_changes(self, feed: Feed, session: Session) -> None:
        cursor = feed.head()
        _, before = feed.ministry()
        for username in (feed_email(session, feed), "nobody@example.org"):
            r = feed.client.post(
                "/v1/auth/token", data={"username": username, "password": "wrong password!"}
            )
            problem(r, 401)
        _, after = feed.ministry()
        failed = session.exec(
            select(AuditEvent.seq).where(AuditEvent.action == "user.login_failed")
        ).all()
        assert len(failed) >= 2  # they are in the audit trail…

        everything = feed.poll(cursor)
        one_by_one: list[Change] = []
        page = feed.poll(cursor, limit=1)
        while page["items"]:
            one_by_one += changes(page)
            page = feed.poll(page["next_cursor"], limit=1)

        assert changes(everything) == [before, after]  # …but not in the feed
        assert one_by_one == [before, after]
        # Resuming after a trailing failure neither repeats nor stalls.
        r = feed.client.post(
            "/v1/auth/token", data={"username": "nobody@example.org", "password": "nope nope"}
        )
        problem(r, 401)
        tail = feed.poll(everything["next_cursor"])
        assert tail["items"] == []
        assert int(tail["next_cursor"]) >= int(everything["next_cursor"])
        assert feed.poll(tail["next_cursor"])["items"] == []

    def test_a_successful_sign_in_is_not_a_change_either(
        self, feed: Feed, session: Session
    ) -> None:
        cursor = feed.head()

        r = feed.client.post(
            "/v1/auth/token", data={"username": feed_email(session, feed), "password": PASSWORD}
        )

        assert r.status_code == 200, r.text
        assert feed.poll(cursor)["items"] == []


def feed_email(session: Session, feed: Feed) -> str:
    email = session.exec(select(User.email).where(col(User.id) == feed.secretariat.id)).one()
    return str(email)


class TestWhoReads:
    @pytest.mark.parametrize("who", ["alliance_member", "government_officer", "viewer"])
    def test_every_role_reads_the_feed(
        self, feed: Feed, session: Session, settings: Settings, who: str
    ) -> None:
        _, created = feed.ministry()

        r = feed.client.get(
            "/v1/changes", params={"limit": 1000}, headers=headers_as(session, settings, who)
        )

        assert r.status_code == 200, r.text
        assert created in changes(r.json())

    def test_readable_with_an_api_key(self, feed: Feed, session: Session) -> None:
        cursor = feed.head()
        _, created = feed.ministry()
        key = make_api_key(session, feed.secretariat)

        for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            r = feed.client.get("/v1/changes", params={"cursor": cursor}, headers=headers)
            assert r.status_code == 200, r.text
            # Creating the key is a change too, but not to the public record: hidden.
            assert changes(r.json()) == [created]

    def test_users_and_keys_are_in_the_secretariats_feed_only(
        self, feed: Feed, session: Session, settings: Settings
    ) -> None:
        cursor = feed.head()
        _, before = feed.ministry()
        user = feed.post(
            "/v1/users",
            {
                "email": "feed.reader@example.org",
                "full_name": "Feed Reader",
                "role": "viewer",
                "password": "a long and unusual passphrase 7",
            },
        )
        key = feed.post("/v1/api-keys", {"name": "feed key"})
        _, after = feed.ministry()
        hidden = [("user", str(user["id"]), "user.created"), ("api_key", str(key["id"]))]

        as_secretariat = feed.client.get(
            "/v1/changes", params={"cursor": cursor}, headers=feed.admin
        ).json()
        assert changes(as_secretariat)[0] == before
        assert changes(as_secretariat)[1] == hidden[0]
        assert changes(as_secretariat)[2][:2] == hidden[1]
        assert changes(as_secretariat)[3] == after
        readers = {
            "viewer": headers_as(session, settings, "viewer"),
            "alliance_member": feed.reader,
            "api key": {"X-API-Key": make_api_key(session, feed.secretariat)},
        }
        for who, headers in readers.items():
            r = feed.client.get("/v1/changes", params={"cursor": cursor}, headers=headers)
            assert r.status_code == 200, (who, r.text)
            assert changes(r.json()) == [before, after], who

    def test_a_reader_moves_past_hidden_changes_without_stalling(
        self, feed: Feed, session: Session
    ) -> None:
        cursor = feed.head()
        _, created = feed.ministry()
        for _ in range(3):  # three api_key.created events: hidden from the reader
            make_api_key(session, feed.secretariat)
        head = session.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq).desc())).first()

        seen: list[Change] = []
        page = feed.poll(cursor, limit=1)
        for _ in range(5):
            seen += changes(page)
            if not page["items"]:
                break
            page = feed.poll(page["next_cursor"], limit=1)

        assert seen == [created]
        # Past the hidden tail, not stuck before it.
        assert int(page["next_cursor"]) == head
        assert feed.poll(page["next_cursor"])["items"] == []

    def test_anonymous_callers_are_refused(self, feed: Feed) -> None:
        problem(feed.client.get("/v1/changes"), 401)

    def test_a_malformed_cursor_is_a_validation_problem(self, feed: Feed) -> None:
        for cursor in ("abc", "-1", "1.5"):
            r = feed.client.get("/v1/changes", params={"cursor": cursor}, headers=feed.reader)
            problem(r, 422)


class TestConcurrentWriters:
    def test_a_change_committed_while_the_feed_is_read_is_not_skipped(
        self, feed: Feed, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On PostgreSQL (READ COMMITTED) every statement sees the latest commits.

        A writer that commits between the feed's read of the changes and its choice of
        ``next_cursor`` must not be jumped over: the next poll has to deliver it.
        """
        from vpitracker.audit import repository
        from vpitracker.audit import service as audit_service
        from vpitracker.kernel.actor import Actor
        from vpitracker.vocab import EntityType

        cursor = feed.head()
        _, created = feed.ministry()
        read_changes = repository.changes_after
        sneaked: list[int] = []

        def changes_then_a_concurrent_commit(*args: Any, **kwargs: Any) -> Any:
            events = read_changes(*args, **kwargs)
            if not sneaked:
                actor = Actor(kind="user", id=feed.secretariat.id or 0, role=Role.secretariat)
                event = audit_service.record(
                    args[0], actor, "ministry.updated", EntityType.ministry, 999, {"x": 1}
                )
                sneaked.append(event.seq)
            return events

        monkeypatch.setattr(repository, "changes_after", changes_then_a_concurrent_commit)

        first = feed.poll(cursor)
        second = feed.poll(first["next_cursor"])

        assert changes(first) == [created]
        assert [c["seq"] for c in second["items"]] == sneaked
