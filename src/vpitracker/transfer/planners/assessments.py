"""Plan an assessments file (append-only): who assessed which commitment, and when.

Posted through ``reporting.service.post_assessment``, the API's own rule code.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlmodel import Session

from vpitracker.kernel.actor import Actor
from vpitracker.models import Assessment, utcnow
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import AssessmentCreate
from vpitracker.transfer import repository
from vpitracker.transfer.formats import timestamp_text
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import append_only
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import AssessmentRow
from vpitracker.types import EvidenceLink
from vpitracker.vocab import ASSESSOR_ROLES

NEVER_EDITED = (
    "this assessment is already recorded with other values; "
    "assessments are never edited (post a newer one)"
)


def plan(
    session: Session, operator: Actor, rows: list[tuple[int, AssessmentRow]], errors: Errors
) -> list[Op]:
    ctx = append_only.context(session, [row.assessed_by_email for _, row in rows])
    ledger = append_only.Ledger[Assessment](
        recorded={
            (a.commitment_id, a.assessed_at, a.assessed_by, a.rationale): a
            for a in repository.assessments_of(session, append_only.named_commitments(ctx, rows))
        },
        noun="assessment",
        key_column="rationale",
        never_edited=NEVER_EDITED,
        values=_recorded,
    )
    now = utcnow()
    for number, row in rows:
        before = len(errors.items)
        commitment = append_only.commitment_for(ctx, number, row.commitment_code, errors)
        user = append_only.user_for(
            ctx,
            number,
            "assessed_by_email",
            row.assessed_by_email,
            ASSESSOR_ROLES,
            errors,
        )
        append_only.not_future(number, "assessed_at", row.assessed_at, now, errors)
        if len(errors.items) > before or commitment is None or user is None:
            continue
        key = (commitment.id, row.assessed_at, user.id, row.rationale)
        label = f"{row.commitment_code}@{timestamp_text(row.assessed_at)}"
        values = {
            "verdict": row.verdict.value,
            "assessed_status": row.assessed_status.value,
            "evidence_urls": row.evidence_urls,
        }
        if ledger.known(number, key, label, values, errors):
            continue
        body = AssessmentCreate(
            verdict=row.verdict,
            assessed_status=row.assessed_status,
            rationale=row.rationale,
            evidence=[EvidenceLink(url=u) for u in row.evidence_urls],
        )
        post = partial(
            reporting_service.post_assessment,
            session,
            ctx.actor(session, user),
            commitment.id or 0,
            body,
            assessed_at=row.assessed_at,
            imported_by=operator,
        )
        ledger.ops.append(Op(number, label, "created", (row.assessed_at, number), post))
    return ledger.ops


def _recorded(old: Assessment) -> dict[str, Any]:
    """A recorded assessment's values under the columns a row gives them in."""
    return {
        "verdict": old.verdict,
        "assessed_status": old.assessed_status,
        "evidence_urls": append_only.urls(old.evidence),
    }
