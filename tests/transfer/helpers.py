"""Files to import, and a small world of records created through the services."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AnyUrl
from sqlmodel import Session

from tests.factories import record_created
from vpitracker.auth.passwords import hash_password
from vpitracker.commitments import service as commitments_service
from vpitracker.commitments.schemas import CommitmentCreate
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.credentials import actor_for_user
from vpitracker.ministries import service as ministries_service
from vpitracker.ministries.schemas import MinistryCreate
from vpitracker.models import (
    Assessment,
    Commitment,
    Ministry,
    Recommendation,
    StatusUpdate,
    User,
    UserMinistry,
)
from vpitracker.recommendations import service as recommendations_service
from vpitracker.recommendations.schemas import RecommendationCreate
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate
from vpitracker.transfer import service
from vpitracker.transfer.schemas import ImportReport, Kind, column_names
from vpitracker.types import EvidenceLink
from vpitracker.vocab import Role

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
# The order in which kinds can be imported into an empty database.
IMPORT_ORDER = (
    Kind.ministries,
    Kind.recommendations,
    Kind.commitments,
    Kind.assessments,
    Kind.status_updates,
)
TABLES = (Ministry, Recommendation, Commitment, StatusUpdate, Assessment)
PASSWORD = "transfer-test-password"


def csv_file(kind: Kind, rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    """A CSV file of ``rows`` (missing cells blank) under the kind's columns."""
    names = columns if columns is not None else column_names(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(name, "") for name in names])
    return buffer.getvalue().encode("utf-8")


def run(
    session: Session, actor: Actor, kind: Kind, data: bytes, *, dry_run: bool = False
) -> ImportReport:
    parsed = service.read_file(kind, data, "upload.csv", dry_run=dry_run)
    return service.run_import(session, actor, parsed, dry_run=dry_run)


def ministry_row(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "name": f"Ministry {code}", "kind": "ministry", **fields}


def recommendation_row(code: str, **fields: Any) -> dict[str, Any]:
    values = {
        "code": code,
        "title": f"Recommendation {code}",
        "text": "Adopt and fund the National Referral Mechanism",
        "source": "VPI Kenya, TiP working group",
        "source_date": "2024-03-14",
        "raised_by": "HAART Kenya; Trace Kenya",
        "provision_keys": "TIP-6; UNTOC-25",
        "priority": "high",
        "government_response": "supported",
    }
    return {**values, **fields}


def commitment_row(code: str, lead: str, **fields: Any) -> dict[str, Any]:
    values = {
        "code": code,
        "title": f"Commitment {code}",
        "description": "Gazette the regulations",
        "lead_ministry_code": lead,
        "committed_on": "2024-04-15",
        "due_date": "2026-06-30",
        "indicator": "Regulations gazetted",
    }
    return {**values, **fields}


@lru_cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def create_user(
    session: Session, email: str, role: Role, ministry_ids: list[int] | None = None
) -> Actor:
    """An account written directly (users are not what is under test), with its creation event."""
    user = User(
        email=email.lower(),
        full_name=email.split("@")[0],
        role=role.value,
        organization="Kenya Civil Society Alliance",
        password_hash=_password_hash(),
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    for ministry_id in ministry_ids or []:
        session.add(UserMinistry(user_id=user.id, ministry_id=ministry_id))
    session.flush()
    record_created(session, user)
    return actor_for_user(session, user)


@dataclass
class World:
    secretariat: Actor
    officer_email: str
    member_email: str
    ministry_codes: list[str]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build_world(session: Session, tag: str) -> World:
    """Ministries, recommendations, commitments, updates and assessments, via the services.

    Texts that start like spreadsheet formulas (or with a quote) check the neutralization.
    """
    secretariat = create_user(session, f"sec-{tag}@example.org", Role.secretariat)
    parent = ministries_service.create(
        session, secretariat, MinistryCreate(code=f"MOI{tag}", name="Interior", kind="ministry")
    )
    child = ministries_service.create(
        session,
        secretariat,
        MinistryCreate(
            code=f"SDI{tag}",
            name="=Immigration",
            kind="state_department",
            parent_id=parent.id,
            contact_email="info@immigration.go.ke",
        ),
    )
    police = ministries_service.create(
        session, secretariat, MinistryCreate(code=f"NPS{tag}", name="Police", kind="agency")
    )
    assert parent.id
    assert child.id
    assert police.id
    officer = create_user(
        session, f"officer-{tag}@example.org", Role.government_officer, [child.id]
    )
    member = create_user(session, f"member-{tag}@example.org", Role.alliance_member)
    rec1 = recommendations_service.create(
        session,
        secretariat,
        RecommendationCreate(
            code=f"VPI-TIP-{tag}",
            title='=HYPERLINK("http://evil.example","click")',
            text="Train referral focal points in every county.\nSecond paragraph, with a comma.",
            source="+254 working group",
            source_date=date(2024, 3, 14),
            raised_by=["@HAART Kenya", "'Quoted org", "Trace Kenya"],
            provision_keys=["TIP-6", "UNTOC-25"],
            priority="high",
            government_response="partially_supported",
            response_note="-5% of the budget; subject to approval",
        ),
    )
    rec2 = recommendations_service.create(
        session,
        secretariat,
        RecommendationCreate(
            code=f"VPI-SOM-{tag}", title="'Smuggling", text="Protect migrants", source="VPI Kenya"
        ),
    )
    assert rec1.id
    assert rec2.id
    c1 = commitments_service.create(
        session,
        secretariat,
        CommitmentCreate(
            code=f"GOK-C-{tag}-1",
            title="Adopt SOPs",
            description="@all counties",
            recommendation_ids=[rec1.id, rec2.id],
            lead_ministry_id=child.id,
            supporting_ministry_ids=[police.id, parent.id],
            committed_on=date(2024, 4, 15),
            due_date=date(2025, 12, 31),
            indicator="SOPs adopted",
        ),
    )
    c2 = commitments_service.create(
        session,
        secretariat,
        CommitmentCreate(
            code=f"GOK-C-{tag}-2",
            title="Publish data",
            description="Yearly statistics",
            lead_ministry_id=police.id,
            committed_on=date(2024, 5, 1),
            due_date=date(2026, 12, 31),
            indicator="Report published",
        ),
    )
    assert c1.id
    assert c2.id
    first = reporting_service.post_update(
        session,
        officer,
        c1.id,
        StatusUpdateCreate(
            status="in_progress",
            progress_percent=40,
            summary="=SUM(A1:A9) counties trained",
            evidence=[EvidenceLink(url=AnyUrl("https://example.org/report.pdf"))],
        ),
        reported_at=at("2025-02-10T10:05:00"),
    )
    dispute = reporting_service.post_assessment(
        session,
        member,
        c1.id,
        AssessmentCreate(
            status_update_id=None,
            verdict="disputes",
            assessed_status="in_progress",
            rationale="-No focal points in Mombasa",
        ),
        assessed_at=at("2025-03-05T14:20:00.250000"),
    )
    reporting_service.post_update(
        session,
        officer,
        c1.id,
        StatusUpdateCreate(
            status="in_progress",
            progress_percent=45,
            summary="In reply: attendance lists shared",
            in_reply_to_assessment_id=dispute.id,
        ),
        reported_at=at("2025-04-14T09:40:00"),
    )
    reporting_service.post_update(
        session,
        secretariat,
        c2.id,
        StatusUpdateCreate(
            status="completed", progress_percent=100, summary="Published", ministry_id=police.id
        ),
        reported_at=at("2025-06-01T08:00:00"),
    )
    assert first.id
    return World(
        secretariat=secretariat,
        officer_email=officer.email or "",
        member_email=member.email or "",
        ministry_codes=[parent.code, child.code, police.code],
    )
