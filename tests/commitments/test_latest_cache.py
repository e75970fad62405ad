"""commitment_latest (the "now" fast path) always agrees with the update history."""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from tests.credentials import auth
from tests.factories import make_commitment, make_ministry, make_user
from vpitracker.commitments import service as commitments_service
from vpitracker.commitments import timeline_days
from vpitracker.commitments.latest import refresh_spans, refresh_update_months
from vpitracker.commitments.schemas import CommitmentCreate, CommitmentUpdate
from vpitracker.config import Settings
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.credentials import actor_for_user
from vpitracker.models import (
    Assessment,
    Commitment,
    CommitmentAssessmentSpan,
    CommitmentClosedSpan,
    CommitmentTimelineDay,
    CommitmentUpdateSpan,
    StatusUpdate,
    TimelineDay,
    UpdateMonth,
)
from vpitracker.reporting import service as reporting
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.versioning import etag
from vpitracker.vocab import ReportedStatus, Role, Verdict


def _migration(name: str) -> Any:
    path = Path(__file__).parents[2] / "migrations" / "versions" / name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _migration_backfill() -> str:
    return str(_migration("2026-12-02_closed_spans.py").BACKFILL)


# A day's timeline moves: updates, completed, closed after due, due.
Moves = tuple[int, int, int, int]

FIELDS = ("reported_status", "progress_percent", "last_reported_at", "verdict", "contested")


def _random_history(session: Session, actor: Actor, rng: random.Random) -> list[Commitment]:
    """Posts through the reporting service: half live (now), half older imports."""
    lead = make_ministry(session)
    commitments = [make_commitment(session, lead=lead) for _ in range(6)]
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for n in range(60):
        c = rng.choice(commitments)
        assert c.id is not None
        at = None if rng.random() < 0.5 else start + timedelta(days=rng.randint(0, 900))
        if rng.random() < 0.6:
            status = rng.choice(list(ReportedStatus))
            progress = 100 if status is ReportedStatus.completed else rng.randint(0, 99)
            body = StatusUpdateCreate(status=status, progress_percent=progress,
                                      summary=f"report {n}")  # fmt: skip
            reporting.post_update(session, actor, c.id, body, reported_at=at)
        else:
            body_a = AssessmentCreate(verdict=rng.choice(list(Verdict)),
                                      assessed_status=ReportedStatus.in_progress,
                                      rationale=f"view {n}")  # fmt: skip
            reporting.post_assessment(session, actor, c.id, body_a, assessed_at=at)
        session.commit()
    return commitments


def _closed_spans_recomputed(session: Session, ids: list[int]) -> set[tuple[Any, ...]]:
    """From the rows alone: each update current until the next one, closed statuses kept."""
    updates = sorted(
        session.exec(select(StatusUpdate).where(col(StatusUpdate.commitment_id).in_(ids))),
        key=lambda u: (u.commitment_id, u.reported_at, u.id),
    )
    out = set()
    for u, after in zip(updates, [*updates[1:], None], strict=True):
        until = after.reported_at if after and after.commitment_id == u.commitment_id else None
        if u.status in ("completed", "cancelled"):
            out.add((u.id, u.commitment_id, u.status, u.reported_at, until))
    return out


def _spans_recomputed(
    records: list[tuple[Any, int, datetime, tuple[Any, ...]]],
) -> set[tuple[Any, ...]]:
    """(id, commitment, at, fields, until): each record newest until the next one's time."""
    ordered = sorted(records, key=lambda r: (r[1], r[2], r[0]))
    out = set()
    for r, after in zip(ordered, [*ordered[1:], None], strict=True):
        until = after[2] if after is not None and after[1] == r[1] else None
        out.add((*r, until))
    return out


class TestLatestCache:
    def test_posts_and_older_imports_leave_the_cache_equal_to_the_history(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        sec = make_user(session, Role.secretariat)
        commitments = _random_history(session, actor_for_user(session, sec), random.Random(7))
        headers = auth(settings, sec)
        future = (Clock.at(None, 90).ref_date + timedelta(days=3650)).isoformat()
        for c in commitments:
            now = client.get(f"/v1/commitments/{c.id}", headers=headers).json()
            history = client.get(f"/v1/commitments/{c.id}?as_of={future}", headers=headers).json()
            assert {f: now[f] for f in FIELDS} == {f: history[f] for f in FIELDS}

    def test_closed_spans_kept_by_posts_and_older_imports_equal_a_recomputation(
        self, session: Session
    ) -> None:
        sec = make_user(session, Role.secretariat)
        commitments = _random_history(session, actor_for_user(session, sec), random.Random(11))
        ids = [c.id for c in commitments if c.id is not None]
        expected = _closed_spans_recomputed(session, ids)
        assert len(expected) >= 5  # the history has closed spans, some ended, some open
        assert any(until is None for *_, until in expected)
        assert any(until is not None for *_, until in expected)

        def kept() -> set[tuple[Any, ...]]:
            rows = session.exec(
                select(CommitmentClosedSpan).where(col(CommitmentClosedSpan.commitment_id).in_(ids))
            )
            return {(r.update_id, r.commitment_id, r.status, r.reported_at, r.until) for r in rows}

        assert kept() == expected
        # The migration's backfill and the bulk refresh build the very same rows.
        session.execute(delete(CommitmentClosedSpan))
        session.execute(text(_migration_backfill()))
        assert kept() == expected
        refresh_spans(session)
        assert kept() == expected

    def test_update_and_assessment_spans_kept_by_posts_and_older_imports_equal_a_recomputation(
        self, session: Session
    ) -> None:
        sec = make_user(session, Role.secretariat)
        commitments = _random_history(session, actor_for_user(session, sec), random.Random(13))
        ids = [c.id for c in commitments if c.id is not None]
        expected_updates = _spans_recomputed(
            [
                (u.id, u.commitment_id, u.reported_at, (u.status, u.progress_percent))
                for u in session.exec(
                    select(StatusUpdate).where(col(StatusUpdate.commitment_id).in_(ids))
                )
            ]
        )
        expected_assessments = _spans_recomputed(
            [
                (a.id, a.commitment_id, a.assessed_at, (a.verdict,))
                for a in session.exec(
                    select(Assessment).where(col(Assessment.commitment_id).in_(ids))
                )
            ]
        )
        # Older imports split spans: some end before a live post's span begins.
        assert len(expected_updates) >= 20
        assert len(expected_assessments) >= 10
        assert sum(until is None for *_, until in expected_updates) == len(
            {u[1] for u in expected_updates}
        )

        def kept() -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
            us = session.exec(
                select(CommitmentUpdateSpan).where(col(CommitmentUpdateSpan.commitment_id).in_(ids))
            )
            asm = session.exec(
                select(CommitmentAssessmentSpan).where(
                    col(CommitmentAssessmentSpan.commitment_id).in_(ids)
                )
            )
            return (
                {
                    (r.update_id, r.commitment_id, r.reported_at, (r.status, r.progress_percent),
                     r.until)
                    for r in us
                },
                {(r.assessment_id, r.commitment_id, r.assessed_at, (r.verdict,), r.until)
                 for r in asm},
            )  # fmt: skip

        assert kept() == (expected_updates, expected_assessments)
        # The migration's backfill and the bulk refresh build the very same rows.
        session.execute(delete(CommitmentUpdateSpan))
        session.execute(delete(CommitmentAssessmentSpan))
        migration = _migration("2026-12-02_state_spans.py")
        session.execute(text(migration.BACKFILL_UPDATES))
        session.execute(text(migration.BACKFILL_ASSESSMENTS))
        assert kept() == (expected_updates, expected_assessments)
        refresh_spans(session)
        assert kept() == (expected_updates, expected_assessments)

    def test_month_counts_kept_by_posts_and_older_imports_equal_a_recount(
        self, session: Session
    ) -> None:
        sec = make_user(session, Role.secretariat)
        _random_history(session, actor_for_user(session, sec), random.Random(5))
        expected = Counter(
            u.reported_at.astimezone(UTC).strftime("%Y-%m")
            for u in session.exec(select(StatusUpdate))
        )
        assert len(expected) >= 10  # live posts this month and imports over many months

        def kept() -> dict[str, int]:
            return {r.month: r.updates for r in session.exec(select(UpdateMonth))}

        assert kept() == dict(expected)
        # The migration's backfill and the bulk refresh build the very same rows.
        session.execute(delete(UpdateMonth))
        dialect = session.get_bind().dialect.name
        session.execute(text(_migration("2026-12-02_update_month.py").backfill(dialect)))
        assert kept() == dict(expected)
        refresh_update_months(session)
        assert kept() == dict(expected)


def _timeline_days_recomputed(session: Session, ids: list[int]) -> dict[tuple[int, date], Moves]:
    """From the rows alone (docs/concepts.md, the timeline): per commitment and UTC day,
    updates posted and the days each closed span starts and stops counting."""
    out: dict[tuple[int, date], list[int]] = {}

    def add(cid: int, day: date, kind: int, n: int) -> None:
        out.setdefault((cid, day), [0, 0, 0, 0])[kind] += n

    commitments = {
        c.id: c for c in session.exec(select(Commitment).where(col(Commitment.id).in_(ids)))
    }
    updates = sorted(
        session.exec(select(StatusUpdate).where(col(StatusUpdate.commitment_id).in_(ids))),
        key=lambda u: (u.commitment_id, u.reported_at, u.id),
    )
    for c in commitments.values():
        assert c.id is not None
        add(c.id, max(c.committed_on, c.due_date + timedelta(days=1)), 3, 1)
    for u, after in zip(updates, [*updates[1:], None], strict=True):
        c = commitments[u.commitment_id]
        day = u.reported_at.astimezone(UTC).date()
        add(u.commitment_id, day, 0, 1)
        if u.status not in ("completed", "cancelled"):
            continue
        ended = after is not None and after.commitment_id == u.commitment_id
        until = after.reported_at.astimezone(UTC).date() if ended and after else None
        due_from = max(c.committed_on, c.due_date + timedelta(days=1))
        starts = [(2, max(day, due_from))]
        if u.status == "completed":
            starts.append((1, max(day, c.committed_on)))
        for kind, first in starts:
            add(u.commitment_id, first, kind, 1)
            if until is not None:
                add(u.commitment_id, max(first, until), kind, -1)
    return {key: (n[0], n[1], n[2], n[3]) for key, n in out.items() if any(n)}


class TestTimelineDays:
    def test_kept_by_posts_imports_and_date_changes_equal_a_recomputation(
        self, session: Session
    ) -> None:
        sec = make_user(session, Role.secretariat)
        actor = actor_for_user(session, sec)
        commitments = _random_history(session, actor, random.Random(17))
        ids = [c.id for c in commitments if c.id is not None]
        # New dates rewrite the commitment's rows (through the service, as PATCH does).
        for c, committed, due in (
            (commitments[0], date(2022, 3, 1), date(2022, 6, 30)),
            (commitments[1], date(2020, 1, 1), date(2020, 2, 1)),
        ):
            assert c.id is not None
            commitments_service.update(
                session,
                actor,
                c.id,
                CommitmentUpdate(committed_on=committed, due_date=due),
                etag(c.version),
            )
            session.commit()
        created = commitments_service.create(
            session,
            actor,
            CommitmentCreate(
                code="GOK-TL-1",
                title="Created through the service",
                description="d",
                lead_ministry_id=commitments[0].lead_ministry_id,
                committed_on=date(2021, 5, 5),
                due_date=date(2021, 5, 31),
                indicator="i",
            ),
        )
        session.commit()
        assert created.id is not None
        ids.append(created.id)
        expected = _timeline_days_recomputed(session, ids)
        # Every kind of move is there, taken back too.
        for kind in range(4):
            assert any(m[kind] > 0 for m in expected.values()), kind
        assert any(m[1] < 0 for m in expected.values())
        assert any(m[2] < 0 for m in expected.values())

        def kept() -> tuple[dict[tuple[int, date], Moves], dict[date, Moves]]:
            rows = {
                (r.commitment_id, r.day): (r.updates, r.completed, r.closed_due, r.due)
                for r in session.exec(select(CommitmentTimelineDay))
            }
            days = {
                r.day: (r.updates, r.completed, r.closed_due, r.due)
                for r in session.exec(select(TimelineDay))
            }
            return {k: m for k, m in rows.items() if any(m)}, {
                d: m for d, m in days.items() if any(m)
            }

        def summed(rows: dict[tuple[int, date], Moves]) -> dict[date, Moves]:
            out: dict[date, list[int]] = {}
            for (_, day), moves in rows.items():
                total = out.setdefault(day, [0, 0, 0, 0])
                for k, n in enumerate(moves):
                    total[k] += n
            return {d: (n[0], n[1], n[2], n[3]) for d, n in out.items() if any(n)}

        assert kept() == (expected, summed(expected))
        # The migration's backfill and the bulk refresh build the very same rows.
        session.execute(delete(CommitmentTimelineDay))
        session.execute(delete(TimelineDay))
        for statement in _migration("2026-12-03_timeline_days.py").backfill(
            session.get_bind().dialect.name
        ):
            session.execute(text(statement))
        assert kept() == (expected, summed(expected))
        timeline_days.refresh(session)
        assert kept() == (expected, summed(expected))
        # Rows written elsewhere (an update removed): rebuilding that commitment alone
        # fixes its rows and moves the day sums by its change only.
        removed = session.exec(
            select(StatusUpdate).where(col(StatusUpdate.commitment_id) == ids[2])
        ).first()
        assert removed is not None
        session.execute(delete(StatusUpdate).where(col(StatusUpdate.id) == removed.id))
        commitments_service.refresh_latest(session, [ids[2]])
        changed = _timeline_days_recomputed(session, ids)
        assert changed != expected
        assert kept() == (changed, summed(changed))
