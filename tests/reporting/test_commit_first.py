"""A report's post is committed before FastAPI answers for it, not only before it sends.

Every audited write holds the chain lock to its commit; the posts commit in the route's
own thread (``deps.commits_on_return``), before FastAPI validates and serializes the
answer, not after the hops back to the event loop and into the thread of the session's
exit. A real server in this process, so the test can watch FastAPI serialize.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import routing
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from tests.conftest import test_settings
from tests.factories import PASSWORD
from tests.live import serve_app
from vpitracker.kernel.actor import Actor
from vpitracker.main import create_app
from vpitracker.models import Assessment, StatusUpdate

pytestmark = pytest.mark.server


def test_a_post_is_committed_before_its_answer_is_serialized(
    posting: tuple[Engine, Actor, int], scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, actor, commitment_id = posting
    seen: list[tuple[int, int]] = []
    serialize = routing.serialize_response

    async def watching(**kwargs: Any) -> Any:
        # What another connection sees while FastAPI validates the route's result.
        with Session(engine) as s:
            seen.append(
                (
                    s.exec(select(func.count()).select_from(StatusUpdate)).one(),
                    s.exec(select(func.count()).select_from(Assessment)).one(),
                )
            )
        return await serialize(**kwargs)

    monkeypatch.setattr(routing, "serialize_response", watching)
    app = create_app(test_settings(database_url=scratch_database_url))
    try:
        with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            signed = client.post(
                "/v1/auth/token", data={"username": actor.email, "password": PASSWORD}
            )
            client.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"
            posted = []
            for n in range(3):
                seen.clear()
                update = client.post(
                    f"/v1/commitments/{commitment_id}/status-updates",
                    json={"status": "in_progress", "progress_percent": n, "summary": f"Post {n}."},
                )
                assert update.status_code == 201, update.text
                assessment = client.post(
                    f"/v1/commitments/{commitment_id}/assessments",
                    json={
                        "status_update_id": update.json()["id"],
                        "verdict": "agrees",
                        "assessed_status": "in_progress",
                        "rationale": f"Checked {n}.",
                    },
                )
                assert assessment.status_code == 201, assessment.text
                posted.append(seen[:])
    finally:
        app.state.engine.dispose()
    # Each answer was serialized once, after its own row was visible to others.
    assert posted == [[(n + 1, n), (n + 1, n + 1)] for n in range(3)]
