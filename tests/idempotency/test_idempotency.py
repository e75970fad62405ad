"""``Idempotency-Key`` on creating POSTs (docs/concepts.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, select

from tests.assertions import problem, row_counts
from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user, status_update_body, unique
from vpitracker.config import Settings
from vpitracker.models import Commitment, IdempotencyRecord, Ministry, StatusUpdate, User, utcnow
from vpitracker.vocab import Role

# A creating POST: (path, body, the table it writes) for a secretariat, fresh each call.
Target = Callable[[Session], tuple[str, dict[str, Any], type[SQLModel]]]


def ministry_post(_session: Session) -> tuple[str, dict[str, Any], type[SQLModel]]:
    body = {"code": unique("IDEM"), "name": unique("Ministry "), "kind": "agency"}
    return "/v1/ministries", body, Ministry


def commitment_post(session: Session) -> tuple[str, dict[str, Any], type[SQLModel]]:
    body = {
        "code": unique("IDEM-C-"),
        "title": "Enact the anti-trafficking amendment",
        "description": "Table and pass the bill",
        "lead_ministry_id": make_ministry(session).id,
        "due_date": "2030-06-30",
        "indicator": "Act published in the Gazette",
    }
    return "/v1/commitments", body, Commitment


def status_update_post(session: Session) -> tuple[str, dict[str, Any], type[SQLModel]]:
    commitment = make_commitment(session, lead=make_ministry(session))
    return f"/v1/commitments/{commitment.id}/status-updates", status_update_body(), StatusUpdate


TARGETS = [
    pytest.param(ministry_post, id="ministries"),
    pytest.param(commitment_post, id="commitments"),
    pytest.param(status_update_post, id="status-updates"),
]


def post(
    client: TestClient, settings: Settings, user: User, path: str, body: dict[str, Any], key: str
) -> Any:
    headers = {**auth(settings, user), "Idempotency-Key": key}
    return client.post(path, json=body, headers=headers)


def records(session: Session, key: str) -> list[IdempotencyRecord]:
    return list(session.exec(select(IdempotencyRecord).where(IdempotencyRecord.key == key)).all())


class TestReplay:
    @pytest.mark.parametrize("target", TARGETS)
    def test_same_key_and_body_replays_the_first_answer_and_creates_one_row(
        self, client: TestClient, session: Session, settings: Settings, target: Target
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = target(session)
        before = row_counts(session, model)

        first = post(client, settings, sec, path, body, "retry-1")
        second = post(client, settings, sec, path, body, "retry-1")

        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        assert second.status_code == 201, second.text
        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.json() == first.json()
        assert second.headers["Location"] == first.headers["Location"]
        # One row and one audit event, however many retries.
        assert row_counts(session, model) == (before[0] + 1, before[1] + 1)

    @pytest.mark.parametrize("target", TARGETS)
    def test_same_key_with_a_different_body_is_422_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings, target: Target
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = target(session)
        assert post(client, settings, sec, path, body, "retry-2").status_code == 201
        after_first = row_counts(session, model)
        changed = {**body, "code": unique("OTHER")} if "code" in body else {**body, "summary": "x"}

        r = post(client, settings, sec, path, changed, "retry-2")

        body_422 = problem(r, 422)
        assert body_422["errors"][0]["loc"] == ["header", "Idempotency-Key"]
        assert row_counts(session, model) == after_first

    def test_same_key_on_another_endpoint_is_422(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, _ = ministry_post(session)
        assert post(client, settings, sec, path, body, "retry-3").status_code == 201
        other_path, other_body, model = commitment_post(session)
        before = row_counts(session, model)

        problem(post(client, settings, sec, other_path, other_body, "retry-3"), 422)
        assert row_counts(session, model) == before

    def test_without_a_key_every_post_creates(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = status_update_post(session)
        before = row_counts(session, model)

        for _ in range(2):
            r = client.post(path, json=body, headers=auth(settings, sec))
            assert r.status_code == 201, r.text
            assert "Idempotent-Replayed" not in r.headers

        assert row_counts(session, model)[0] == before[0] + 2

    def test_a_failed_request_does_not_consume_the_key(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = ministry_post(session)
        before = row_counts(session, model)

        problem(post(client, settings, sec, path, {**body, "kind": "planet"}, "retry-4"), 422)
        r = post(client, settings, sec, path, body, "retry-4")

        assert r.status_code == 201, r.text
        assert "Idempotent-Replayed" not in r.headers
        assert row_counts(session, model) == (before[0] + 1, before[1] + 1)


class TestInFlight:
    def test_a_retry_while_the_first_is_unfinished_is_409_and_writes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = status_update_post(session)
        assert post(client, settings, sec, path, body, "in-flight").status_code == 201
        # Take the answer away: the record now looks as it does while the first runs.
        session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == "in-flight")
            .values(status_code=None, body=None, location=None)
        )
        session.commit()
        before = row_counts(session, model)

        r = post(client, settings, sec, path, body, "in-flight")

        problem(r, 409)
        assert row_counts(session, model) == before


class TestScope:
    def test_another_user_may_use_the_same_key_and_gets_a_new_row(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        alice, bob = make_user(session, Role.secretariat), make_user(session, Role.secretariat)
        path, alice_body, model = ministry_post(session)
        _, bob_body, _ = ministry_post(session)
        before = row_counts(session, model)

        mine = post(client, settings, alice, path, alice_body, "shared-key")
        theirs = post(client, settings, bob, path, bob_body, "shared-key")

        assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
        assert "Idempotent-Replayed" not in theirs.headers
        assert theirs.json()["id"] != mine.json()["id"]
        assert theirs.json()["code"] == bob_body["code"]
        assert row_counts(session, model)[0] == before[0] + 2
        # Each caller still replays their own answer.
        again = post(client, settings, bob, path, bob_body, "shared-key")
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == theirs.json()


class TestExpiry:
    def age(self, session: Session, key: str, hours: int) -> None:
        session.execute(
            update(IdempotencyRecord)
            .where(col(IdempotencyRecord.key) == key)
            .values(created_at=utcnow() - timedelta(hours=hours))
        )
        session.commit()

    def test_a_key_is_still_replayed_within_24_hours(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = ministry_post(session)
        first = post(client, settings, sec, path, body, "day-old")
        self.age(session, "day-old", hours=23)
        before = row_counts(session, model)

        again = post(client, settings, sec, path, body, "day-old")

        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert row_counts(session, model) == before

    def test_an_expired_record_is_purged_and_the_key_can_be_reused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        path, body, model = ministry_post(session)
        _, new_body, _ = ministry_post(session)
        first = post(client, settings, sec, path, body, "old-key")
        (old_record,) = records(session, "old-key")
        old_fingerprint = old_record.fingerprint
        self.age(session, "old-key", hours=25)
        before = row_counts(session, model)

        reused = post(client, settings, sec, path, new_body, "old-key")

        assert reused.status_code == 201, reused.text
        assert "Idempotent-Replayed" not in reused.headers
        assert reused.json()["id"] != first.json()["id"]
        assert row_counts(session, model)[0] == before[0] + 1
        session.expire_all()
        (record,) = records(session, "old-key")
        assert record.fingerprint != old_fingerprint
        assert record.location == reused.headers["Location"]

    def test_another_callers_request_purges_expired_records(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        alice, bob = make_user(session, Role.secretariat), make_user(session, Role.secretariat)
        path, body, _ = ministry_post(session)
        assert post(client, settings, alice, path, body, "stale-key").status_code == 201
        self.age(session, "stale-key", hours=25)
        _, other_body, _ = ministry_post(session)

        assert post(client, settings, bob, path, other_body, "fresh-key").status_code == 201

        session.expire_all()
        assert records(session, "stale-key") == []
        assert len(records(session, "fresh-key")) == 1
