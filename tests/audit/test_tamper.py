"""Quiet edits to the stored history are caught by verification (docs/concepts.md).

Each test writes through the API, then tampers with the rows directly in SQL,
as a database administrator could, and expects ``GET /v1/audit/verify`` (and the
``vpitracker audit verify`` command) to name the first ``seq`` that no longer
holds. Expected seqs are looked up from the audit rows, never hard-coded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tests.conftest import TEST_SECRET
from tests.credentials import auth
from tests.factories import (
    assessment_body,
    make_commitment,
    make_ministry,
    make_update,
    make_user,
    status_update_body,
    unique,
)
from vpitracker import config, db, migrate
from vpitracker.audit.service import compute_hash
from vpitracker.cli import app as cli
from vpitracker.config import Environment, Settings
from vpitracker.main import create_app
from vpitracker.models import AuditEvent, Commitment, Ministry, utcnow
from vpitracker.vocab import Role


@dataclass
class History:
    """What a short oversight cycle wrote through the API."""

    lead_id: int
    recommendation_id: int
    commitment_id: int
    first_update_id: int
    second_update_id: int
    assessment_id: int


def write_history(client: TestClient, session: Session, settings: Settings) -> History:
    """Two ministries, a recommendation, a commitment, two updates, an assessment, a ministry.

    Every record is written over the API, so an event covers each; the users are made by
    the factory, which records their creation as the API would.
    """
    sec = make_user(session, Role.secretariat)
    member = make_user(session, Role.alliance_member)

    def created(path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 201, r.text
        new_id: int = r.json()["id"]
        return new_id

    sec_headers = auth(settings, sec)
    lead_id = created(
        "/v1/ministries", {"code": unique("T"), "name": "Interior", "kind": "ministry"}, sec_headers
    )
    officer = make_user(
        session, Role.government_officer, ministries=[session.get_one(Ministry, lead_id)]
    )
    recommendation_id = created(
        "/v1/recommendations",
        {
            "code": unique("VPI-T-"),
            "title": "Protect victims",
            "text": "Open shelters in every county",
            "source": "VPI Kenya",
            "provision_keys": ["TIP-6"],
        },
        sec_headers,
    )
    commitment_id = created(
        "/v1/commitments",
        {
            "code": unique("T-C-"),
            "title": "Protect victims of trafficking",
            "description": "Open two shelters",
            "lead_ministry_id": lead_id,
            "recommendation_ids": [recommendation_id],
            "due_date": "2030-01-31",
            "indicator": "Shelters open",
        },
        sec_headers,
    )
    updates = f"/v1/commitments/{commitment_id}/status-updates"
    first = created(updates, status_update_body(progress_percent=20), auth(settings, officer))
    assessment = created(
        f"/v1/commitments/{commitment_id}/assessments",
        assessment_body(status_update_id=first, verdict="disputes"),
        auth(settings, member),
    )
    second = created(updates, status_update_body(progress_percent=30), auth(settings, officer))
    created(
        "/v1/ministries", {"code": unique("T"), "name": "Labour", "kind": "ministry"}, sec_headers
    )
    return History(lead_id, recommendation_id, commitment_id, first, second, assessment)


# Seven writes over the API and the three accounts.
HISTORY_EVENTS = 10


def posted_seq(session: Session, entity_type: str, entity_id: int) -> int:
    """The seq of the event that recorded the posting of this row."""
    stmt = select(AuditEvent.seq).where(
        AuditEvent.entity_type == entity_type,
        AuditEvent.entity_id == str(entity_id),
        col(AuditEvent.action).endswith(".posted"),
    )
    return session.exec(stmt).one()


def seq_of_action(session: Session, action: str) -> int:
    """The seq of the one event with this action."""
    return session.exec(select(AuditEvent.seq).where(AuditEvent.action == action)).one()


def event_count(session: Session) -> int:
    return len(session.exec(select(AuditEvent.seq)).all())


def event_row(session: Session, seq: int) -> AuditEvent:
    session.expire_all()
    event = session.get(AuditEvent, seq)
    assert event is not None
    return event


def tamper(session: Session, sql: str, **params: Any) -> None:
    session.execute(text(sql), params)
    session.commit()


def verify(
    client: TestClient, settings: Settings, session: Session, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """``GET /v1/audit/verify``; without ``headers``, as a new secretariat user (an event)."""
    headers = headers or auth(settings, make_user(session, Role.secretariat))
    r = client.get("/v1/audit/verify", headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def caught_at(result: dict[str, Any], seq: int) -> None:
    assert result["ok"] is False, result
    assert result["first_bad_seq"] == seq, result


def caught_past_the_head(result: dict[str, Any], session: Session) -> None:
    """A row no event covers, with no later row of its kind covered: the head plus one."""
    assert result["head"]["seq"] == event_count(session), result
    caught_at(result, result["head"]["seq"] + 1)


class TestTamperedRecords:
    def test_the_untouched_history_verifies(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        write_history(client, session, settings)

        result = verify(client, settings, session)

        assert result["ok"] is True, result
        # …and the verifier's account.
        assert result["checked"] == result["head"]["seq"] == HISTORY_EVENTS + 1

    @pytest.mark.parametrize(
        ("table", "posted", "column", "value"),
        [
            ("status_update", "first_update_id", "summary", "x"),
            ("status_update", "first_update_id", "progress_percent", 95),
            ("status_update", "first_update_id", "status", "completed"),
            ("assessment", "assessment_id", "rationale", "x"),
            ("assessment", "assessment_id", "verdict", "agrees"),
        ],
    )
    def test_editing_a_posted_record_is_caught_at_the_event_that_posted_it(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        table: str,
        posted: str,
        column: str,
        value: object,
    ) -> None:
        history = write_history(client, session, settings)
        row_id = getattr(history, posted)

        tamper(session, f"UPDATE {table} SET {column} = :v WHERE id = :i", v=value, i=row_id)

        caught_at(verify(client, settings, session), posted_seq(session, table, row_id))

    def test_deleting_a_status_update_is_caught(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)

        tamper(session, "DELETE FROM status_update WHERE id = :i", i=history.second_update_id)

        expected = posted_seq(session, "status_update", history.second_update_id)
        caught_at(verify(client, settings, session), expected)

    def test_a_status_update_no_event_covers_is_caught_at_the_end_of_the_chain(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        commitment = session.get_one(Commitment, history.commitment_id)

        # Inserted behind the API's back: no event records it, none came after it.
        row = make_update(session, commitment, by=make_user(session), at=utcnow())

        result = verify(client, settings, session)
        caught_past_the_head(result, session)
        assert (result["entity_type"], result["entity_id"]) == ("status_update", str(row.id))

    def test_a_status_update_no_event_covers_is_caught_before_the_next_one_posted(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        commitment = session.get_one(Commitment, history.commitment_id)
        row = make_update(session, commitment, by=make_user(session), at=utcnow())
        lead = session.get_one(Ministry, history.lead_id)
        officer = make_user(session, Role.government_officer, ministries=[lead])
        later = client.post(
            f"/v1/commitments/{commitment.id}/status-updates",
            json=status_update_body(),
            headers=auth(settings, officer),
        )
        assert later.status_code == 201, later.text

        result = verify(client, settings, session)
        caught_at(result, posted_seq(session, "status_update", later.json()["id"]))
        assert (result["entity_type"], result["entity_id"]) == ("status_update", str(row.id))

    def test_the_earliest_of_several_edits_is_reported(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        update_seq = posted_seq(session, "status_update", history.first_update_id)
        assessment_seq = posted_seq(session, "assessment", history.assessment_id)
        last_seq = event_count(session)
        assert update_seq < assessment_seq < last_seq

        tamper(
            session, "UPDATE assessment SET rationale = 'x' WHERE id = :i", i=history.assessment_id
        )
        tamper(
            session,
            "UPDATE status_update SET summary = 'x' WHERE id = :i",
            i=history.first_update_id,
        )
        tamper(session, "UPDATE audit_event SET data = '{}' WHERE seq = :s", s=last_seq)

        caught_at(verify(client, settings, session), update_seq)

    def test_an_edited_assessment_before_an_edited_update_is_reported_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        assessment_seq = posted_seq(session, "assessment", history.assessment_id)
        update_seq = posted_seq(session, "status_update", history.second_update_id)
        assert assessment_seq < update_seq

        tamper(
            session,
            "UPDATE assessment SET verdict = 'agrees' WHERE id = :i",
            i=history.assessment_id,
        )
        tamper(session, "DELETE FROM status_update WHERE id = :i", i=history.second_update_id)

        caught_at(verify(client, settings, session), assessment_seq)


def newest_seq(session: Session, entity_type: str, entity_id: object) -> int:
    """The seq of the newest event about this record."""
    stmt = select(func.max(AuditEvent.seq)).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
    )
    return int(session.exec(stmt).one())


def named(result: dict[str, Any], entity_type: str, entity_id: object) -> None:
    assert (result["entity_type"], result["entity_id"]) == (entity_type, str(entity_id)), result


class TestTamperedRecordsAtTheEdges:
    """Ministries, recommendations, commitments and provisions against their events."""

    def test_a_renamed_ministry_is_caught_at_its_newest_event(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        # An edit over the API first: the newest event is a change, not the creation.
        r = client.patch(
            f"/v1/ministries/{history.lead_id}",
            json={"name": "Interior and National Administration"},
            headers={**auth(settings, make_user(session, Role.secretariat)), "If-Match": '"v1"'},
        )
        assert r.status_code == 200, r.text
        assert verify(client, settings, session)["ok"] is True

        tamper(session, "UPDATE ministry SET name = 'Treasury' WHERE id = :i", i=history.lead_id)

        result = verify(client, settings, session)
        caught_at(result, newest_seq(session, "ministry", history.lead_id))
        named(result, "ministry", history.lead_id)
        assert "name" in result["detail"]

    @pytest.mark.parametrize(
        ("table", "column", "value"),
        [
            ("commitment", "title", "A smaller promise"),
            ("commitment", "due_date", "2045-01-31"),
            ("commitment", "archived_at", "2030-01-01 00:00:00"),
            ("recommendation", "text", "Nothing needed"),
            ("recommendation", "government_response", "rejected"),
        ],
    )
    def test_an_edited_commitment_or_recommendation_is_caught_naming_it(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        table: str,
        column: str,
        value: str,
    ) -> None:
        history = write_history(client, session, settings)
        row_id = history.commitment_id if table == "commitment" else history.recommendation_id

        tamper(session, f"UPDATE {table} SET {column} = :v WHERE id = :i", v=value, i=row_id)

        result = verify(client, settings, session)
        caught_at(result, newest_seq(session, table, row_id))
        named(result, table, row_id)
        assert column in result["detail"]

    def test_a_removed_link_is_caught_at_the_commitment(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)

        tamper(
            session,
            "DELETE FROM commitment_recommendation WHERE commitment_id = :i",
            i=history.commitment_id,
        )

        result = verify(client, settings, session)
        caught_at(result, newest_seq(session, "commitment", history.commitment_id))
        named(result, "commitment", history.commitment_id)
        assert "recommendation_ids" in result["detail"]

    def test_a_ministry_no_event_covers_is_caught_before_the_next_one_created(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        write_history(client, session, settings)
        hidden = make_ministry(session)  # behind the API's back
        r = client.post(
            "/v1/ministries",
            json={"code": unique("T"), "name": "Health", "kind": "ministry"},
            headers=auth(settings, make_user(session, Role.secretariat)),
        )
        assert r.status_code == 201, r.text

        result = verify(client, settings, session)
        caught_at(result, newest_seq(session, "ministry", r.json()["id"]))
        named(result, "ministry", hidden.id)

    def test_a_commitment_no_event_covers_is_caught_past_the_head(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        hidden = make_commitment(session, lead=session.get_one(Ministry, history.lead_id))

        result = verify(client, settings, session)
        caught_past_the_head(result, session)
        named(result, "commitment", hidden.id)

    def test_an_edited_catalogue_provision_is_caught(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        write_history(client, session, settings)

        tamper(session, "UPDATE provision SET title = 'Nothing' WHERE key = 'TIP-6'")

        result = verify(client, settings, session)
        caught_past_the_head(result, session)
        named(result, "provision", "TIP-6")

    def test_the_earliest_edit_wins_across_kinds(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        recommendation_seq = newest_seq(session, "recommendation", history.recommendation_id)
        assert recommendation_seq < posted_seq(session, "status_update", history.second_update_id)

        tamper(
            session,
            "UPDATE status_update SET summary = 'x' WHERE id = :i",
            i=history.second_update_id,
        )
        tamper(
            session,
            "UPDATE recommendation SET title = 'x' WHERE id = :i",
            i=history.recommendation_id,
        )

        result = verify(client, settings, session)
        caught_at(result, recommendation_seq)
        named(result, "recommendation", history.recommendation_id)


class TestTamperedEvents:
    @pytest.mark.parametrize(
        ("event", "field", "value"),
        [
            pytest.param(
                lambda session, _: seq_of_action(session, "commitment.created"),
                "due_date",
                "2040-01-31",
                id="commitment-created",
            ),
            pytest.param(
                lambda session, history: posted_seq(
                    session, "status_update", history.second_update_id
                ),
                "summary",
                "x",
                id="covering-a-status-update",
            ),
        ],
    )
    def test_editing_an_events_data_is_caught_at_that_event(
        self,
        client: TestClient,
        session: Session,
        settings: Settings,
        event: Callable[[Session, History], int],
        field: str,
        value: str,
    ) -> None:
        history = write_history(client, session, settings)
        seq = event(session, history)
        data = json.loads(event_row(session, seq).data)
        data[field] = value

        tamper(
            session,
            "UPDATE audit_event SET data = :d WHERE seq = :s",
            d=json.dumps(data, sort_keys=True, separators=(",", ":")),
            s=seq,
        )

        caught_at(verify(client, settings, session), seq)

    def test_deleting_an_event_is_caught_at_its_seq(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        seq = posted_seq(session, "assessment", history.assessment_id)

        tamper(session, "DELETE FROM audit_event WHERE seq = :s", s=seq)

        caught_at(verify(client, settings, session), seq)

    def test_swapping_two_events_data_and_hash_is_caught_at_the_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        low = posted_seq(session, "status_update", history.first_update_id)
        high = posted_seq(session, "status_update", history.second_update_id)
        a, b = event_row(session, low), event_row(session, high)
        swapped = {low: (b.data, b.hash), high: (a.data, a.hash)}

        # hash is unique: park one value first, as an attacker would have to.
        tamper(session, "UPDATE audit_event SET hash = :h WHERE seq = :s", h="f" * 64, s=low)
        for seq in (high, low):
            data, hash_ = swapped[seq]
            tamper(
                session,
                "UPDATE audit_event SET data = :d, hash = :h WHERE seq = :s",
                d=data,
                h=hash_,
                s=seq,
            )

        caught_at(verify(client, settings, session), low)

    def test_swapping_two_events_seq_is_caught_at_the_first(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        history = write_history(client, session, settings)
        low = posted_seq(session, "status_update", history.first_update_id)
        high = posted_seq(session, "status_update", history.second_update_id)

        tamper(session, "UPDATE audit_event SET seq = -1 WHERE seq = :s", s=low)
        tamper(session, "UPDATE audit_event SET seq = :new WHERE seq = :s", new=low, s=high)
        tamper(session, "UPDATE audit_event SET seq = :new WHERE seq = -1", new=high)

        caught_at(verify(client, settings, session), low)

    def test_rewriting_the_chain_after_an_edit_is_caught_by_the_published_head(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        write_history(client, session, settings)
        published = verify(client, settings, session)["head"]
        seq = seq_of_action(session, "commitment.created")

        # Edit one event, then recompute every hash after it so the chain links again.
        prev_hash = event_row(session, seq - 1).hash
        for s in range(seq, published["seq"] + 1):
            event = event_row(session, s)
            session.expunge(event)
            data = json.loads(event.data)
            if s == seq:
                data["title"] = "A smaller promise"
            event.data = json.dumps(data, sort_keys=True, separators=(",", ":"))
            event.prev_hash = prev_hash
            event.hash = compute_hash(prev_hash, event)
            tamper(
                session,
                "UPDATE audit_event SET data = :d, prev_hash = :p, hash = :h WHERE seq = :s",
                d=event.data,
                p=event.prev_hash,
                h=event.hash,
                s=s,
            )
            prev_hash = event.hash

        # …and the row too, so what the events record and what the table holds agree.
        tamper(
            session,
            "UPDATE commitment SET title = 'A smaller promise' WHERE id = :i",
            i=session.exec(select(AuditEvent.entity_id).where(AuditEvent.seq == seq)).one(),
        )
        assert verify(client, settings, session)["ok"] is True
        r = client.get(
            "/v1/audit/verify",
            params={"from_seq": published["seq"], "expected_hash": published["hash"]},
            headers=auth(settings, make_user(session, Role.alliance_member)),
        )
        caught_at(r.json(), published["seq"])


# The CLI opens its own engine from VPI_DATABASE_URL and cannot see the test's
# uncommitted transaction, so it is tried on a database file of its own.


@contextmanager
def cli_pointed_at(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Session, Settings]]:
    """A migrated database at ``url`` that the CLI reads, the app on it, and a session."""
    monkeypatch.setenv("VPI_ENV", Environment.development.value)
    monkeypatch.setenv("VPI_DATABASE_URL", url)
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(env=Environment.test, secret_key=TEST_SECRET, database_url=url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            with TestClient(create_app(settings, engine=engine)) as client:
                yield client, session, settings
    finally:
        db.get_engine().dispose()
        db.get_engine.cache_clear()
        config.get_settings.cache_clear()
        engine.dispose()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite file the CLI is pointed at, with a short history written to it."""
    path = tmp_path / "cli.db"
    with cli_pointed_at(f"sqlite:///{path}", monkeypatch) as (client, session, settings):
        write_history(client, session, settings)
        yield path


def run_verify(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["audit", "verify", *args])
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return result.exit_code, report


def sqlite_rows(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.mark.sqlite_only
class TestCliVerify:
    def test_an_intact_chain_exits_0_and_accepts_its_published_head(
        self, cli_database: Path
    ) -> None:
        code, report = run_verify()

        assert code == 0
        assert report["ok"] is True
        head = report["head"]
        assert head["seq"] == HISTORY_EVENTS
        earlier = f"4:{self.hash_at(cli_database, 4)}"
        assert run_verify("--expected-head", earlier) == (0, report)
        assert run_verify("--expected-head", f"{head['seq']}:{head['hash']}")[0] == 0

    @pytest.mark.usefixtures("cli_database")
    def test_a_wrong_published_head_exits_1(self) -> None:
        code, report = run_verify("--expected-head", f"3:{'a' * 64}")

        assert code == 1
        assert report["first_bad_seq"] == 3

    @pytest.mark.usefixtures("cli_database")
    def test_a_malformed_published_head_exits_2(self) -> None:
        result = CliRunner().invoke(cli, ["audit", "verify", "--expected-head", "three:abc"])

        assert result.exit_code == 2

    def test_an_edited_status_update_exits_1_naming_its_seq(self, cli_database: Path) -> None:
        ((update_id, seq),) = sqlite_rows(
            cli_database,
            "SELECT CAST(entity_id AS INTEGER), seq FROM audit_event "
            "WHERE action = 'status_update.posted' ORDER BY seq DESC LIMIT 1",
        )
        sqlite_rows(cli_database, "UPDATE status_update SET summary = 'x' WHERE id = ?", update_id)

        code, report = run_verify()

        assert code == 1
        assert report["ok"] is False
        assert report["first_bad_seq"] == seq

    def test_a_deleted_event_exits_1_naming_its_seq(self, cli_database: Path) -> None:
        ((seq,),) = sqlite_rows(
            cli_database, "SELECT seq FROM audit_event WHERE action = 'commitment.created'"
        )
        sqlite_rows(cli_database, "DELETE FROM audit_event WHERE seq = ?", seq)

        code, report = run_verify()

        assert (code, report["first_bad_seq"]) == (1, seq)

    @staticmethod
    def hash_at(path: Path, seq: int) -> str:
        ((value,),) = sqlite_rows(path, "SELECT hash FROM audit_event WHERE seq = ?", seq)
        return str(value)


class TestCliAndApiAgree:
    """On a database of its own (SQLite or PostgreSQL): the CLI reads what was committed."""

    @pytest.fixture
    def committed(
        self, scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[tuple[TestClient, Session, Settings]]:
        with cli_pointed_at(scratch_database_url, monkeypatch) as committed:
            yield committed

    @pytest.mark.parametrize(
        ("table", "column"),
        [("commitment", "title"), ("ministry", "name"), ("recommendation", "text")],
    )
    def test_an_edited_record_is_named_alike(
        self, committed: tuple[TestClient, Session, Settings], table: str, column: str
    ) -> None:
        client, session, settings = committed
        history = write_history(client, session, settings)
        row_id = {
            "commitment": history.commitment_id,
            "ministry": history.lead_id,
            "recommendation": history.recommendation_id,
        }[table]
        verifier = auth(settings, make_user(session, Role.secretariat))
        assert run_verify() == (0, verify(client, settings, session, verifier))

        tamper(session, f"UPDATE {table} SET {column} = 'edited in SQL' WHERE id = :i", i=row_id)

        api = verify(client, settings, session, verifier)
        code, cli_report = run_verify()
        assert code == 1
        assert cli_report == api
        caught_at(api, newest_seq(session, table, row_id))
        named(api, table, row_id)

    def test_an_uncovered_row_is_named_alike(
        self, committed: tuple[TestClient, Session, Settings]
    ) -> None:
        client, session, settings = committed
        history = write_history(client, session, settings)
        hidden = make_commitment(session, lead=session.get_one(Ministry, history.lead_id))

        api = verify(client, settings, session)
        assert run_verify() == (1, api)
        caught_past_the_head(api, session)
        named(api, "commitment", hidden.id)
