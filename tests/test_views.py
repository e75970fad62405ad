"""The read-only SQL views give BI tools the same rows as the report endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import (
    make_assessment,
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
from vpitracker.config import Settings
from vpitracker.vocab import Role


def _normal(value: Any) -> Any:
    """One spelling for values that the two databases return differently."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[10] in "T ":
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=UTC)
    return value


def _rows(session: Session, view: str, flags: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = session.execute(text(f"SELECT * FROM {view} ORDER BY id"))
    rows = []
    for row in result.mappings():
        item = {k: _normal(v) for k, v in row.items()}
        for flag in flags:
            item[flag] = bool(item[flag])
        rows.append(item)
    return rows


def _api(client: TestClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items = client.get(path, headers=headers).json()
    return sorted(
        ({k: _normal(v) for k, v in item.items()} for item in items), key=lambda i: i["id"]
    )


class TestReportViews:
    def _scenario(self, session: Session, settings: Settings) -> dict[str, str]:
        sec = make_user(session, Role.secretariat)
        lead = make_ministry(session, code="LEAD")
        helper = make_ministry(session, code="HELP")
        rec = make_recommendation(session, provision_keys=["TIP-6", "UNTOC-5"])
        make_recommendation(session)
        old = datetime.now(UTC) - timedelta(days=200)
        recent = datetime.now(UTC) - timedelta(days=3)
        overdue = make_commitment(
            session, lead=lead, supporting=[helper], recommendations=[rec],
            committed_on=date(2024, 1, 10), due_date=date(2024, 12, 31),
        )  # fmt: skip
        make_update(session, overdue, by=sec, at=old, status="in_progress", progress=30,
                    evidence=[{"url": "https://example.org/a", "title": "A"}])  # fmt: skip
        make_assessment(session, overdue, by=sec, at=old + timedelta(days=1), verdict="disputes")
        done = make_commitment(session, lead=helper, recommendations=[rec])
        make_update(session, done, by=sec, at=recent, status="completed", progress=100)
        make_commitment(session, lead=lead, committed_on=date(2024, 2, 1))
        return auth(settings, sec)

    def test_views_match_the_report_endpoints(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = self._scenario(session, settings)
        assert _rows(session, "report_commitments", ("contested", "overdue", "stale")) == _api(
            client, "/v1/reports/commitments", headers
        )
        assert _rows(session, "report_recommendations") == _api(
            client, "/v1/reports/recommendations", headers
        )
        assert _rows(session, "report_status_history") == _api(
            client, "/v1/reports/status-history", headers
        )

    def test_views_show_the_derived_state(self, session: Session, settings: Settings) -> None:
        self._scenario(session, settings)
        rows = {r["lead_ministry_code"] + str(r["overdue"]): r for r in _rows(
            session, "report_commitments", ("contested", "overdue", "stale"))}  # fmt: skip
        flagged = rows["LEADTrue"]
        assert flagged["contested"]
        assert flagged["stale"]
        assert flagged["supporting_ministry_codes"] == "HELP"
        assert rows["HELPFalse"]["reported_status"] == "completed"
