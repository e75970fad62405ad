"""commitment_latest (the "now" fast path) always agrees with the update history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import auth, make_commitment, make_ministry, make_user
from vpitracker.auth.service import actor_for_user
from vpitracker.commitments.state import Clock
from vpitracker.config import Settings
from vpitracker.reporting import service as reporting
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.vocab import ReportedStatus, Role, Verdict

FIELDS = ("reported_status", "progress_percent", "last_reported_at", "verdict", "contested")


class TestLatestCache:
    def test_posts_and_older_imports_leave_the_cache_equal_to_the_history(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        rng = random.Random(7)
        sec = make_user(session, Role.secretariat)
        actor = actor_for_user(session, sec)
        lead = make_ministry(session)
        commitments = [make_commitment(session, lead=lead) for _ in range(6)]
        start = datetime(2021, 1, 1, tzinfo=UTC)
        for n in range(60):
            c = rng.choice(commitments)
            assert c.id is not None
            # Half are live posts (now); half are historical imports in random order.
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
        headers = auth(settings, sec)
        future = (Clock.at(None, 90).ref_date + timedelta(days=3650)).isoformat()
        for c in commitments:
            now = client.get(f"/v1/commitments/{c.id}", headers=headers).json()
            history = client.get(f"/v1/commitments/{c.id}?as_of={future}", headers=headers).json()
            assert {f: now[f] for f in FIELDS} == {f: history[f] for f in FIELDS}
