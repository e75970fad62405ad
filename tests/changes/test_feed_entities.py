"""Every entity the change feed names can be read by its id alone."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.credentials import auth
from tests.factories import make_user
from vpitracker.config import Settings
from vpitracker.vocab import Role

READ_BY_ID = {
    "ministry": "/v1/ministries/{}",
    "provision": "/v1/provisions/{}",
    "recommendation": "/v1/recommendations/{}",
    "commitment": "/v1/commitments/{}",
    "status_update": "/v1/status-updates/{}",
    "assessment": "/v1/assessments/{}",
    # The secretariat's feed names accounts too (the caller's own creation among them).
    "user": "/v1/users/{}",
    "webhook_subscription": "/v1/webhooks/{}",
}


def test_every_entity_in_the_feed_reads_by_id(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = auth(settings, make_user(session, Role.secretariat))
    ministry = client.post(
        "/v1/ministries",
        json={"code": "MOI-F", "name": "Interior", "kind": "ministry"},
        headers=headers,
    )
    assert ministry.status_code == 201, ministry.text
    commitment = client.post(
        "/v1/commitments",
        json={
            "code": "GOK-F-1",
            "title": "Adopt the referral mechanism",
            "description": "SOPs adopted and focal points trained",
            "lead_ministry_id": ministry.json()["id"],
            "due_date": "2030-12-31",
            "indicator": "SOPs adopted",
        },
        headers=headers,
    )
    assert commitment.status_code == 201, commitment.text
    cid = commitment.json()["id"]
    update = client.post(
        f"/v1/commitments/{cid}/status-updates",
        json={"status": "in_progress", "progress_percent": 30, "summary": "SOPs drafted"},
        headers=headers,
    )
    assert update.status_code == 201, update.text
    assessment = client.post(
        f"/v1/commitments/{cid}/assessments",
        json={
            "status_update_id": update.json()["id"],
            "verdict": "disputes",
            "assessed_status": "not_started",
            "rationale": "No SOPs seen in the counties",
        },
        headers=headers,
    )
    assert assessment.status_code == 201, assessment.text

    feed = client.get("/v1/changes", params={"limit": 1000}, headers=headers).json()["items"]
    named = {(c["entity_type"], c["entity_id"]) for c in feed}
    assert ("assessment", str(assessment.json()["id"])) in named
    for entity_type, entity_id in sorted(named):
        assert entity_type in READ_BY_ID, f"no GET by id for {entity_type}"
        r = client.get(READ_BY_ID[entity_type].format(entity_id), headers=headers)
        assert r.status_code == 200, (entity_type, entity_id, r.text)

    by_id = client.get(f"/v1/assessments/{assessment.json()['id']}", headers=headers)
    assert by_id.json() == assessment.json()
    assert client.get("/v1/assessments/999999", headers=headers).status_code == 404
    assert client.get(f"/v1/assessments/{assessment.json()['id']}").status_code == 401
