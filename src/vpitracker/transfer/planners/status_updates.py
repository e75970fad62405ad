"""Plan a status-updates file (append-only): who reported for which ministry, and replies.

The rules are the API's (``reporting.service``): the row is checked here against the
records loaded once, so every problem is reported by row, and posted through
``reporting.service.post_update`` which checks them again under the write lock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session

from vpitracker.kernel.actor import Actor
from vpitracker.models import Assessment, StatusUpdate, utcnow
from vpitracker.reporting import service as reporting_service
from vpitracker.reporting.schemas import StatusUpdateCreate, completion_problem
from vpitracker.transfer import repository
from vpitracker.transfer.formats import timestamp_text
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import append_only
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import StatusUpdateRow
from vpitracker.types import EvidenceLink
from vpitracker.vocab import REPORTER_ROLES, Role

NEVER_EDITED = (
    "this status update is already recorded with other values; "
    "updates are never edited (post a newer one)"
)


def plan(
    session: Session, operator: Actor, rows: list[tuple[int, StatusUpdateRow]], errors: Errors
) -> list[Op]:
    ctx = append_only.context(session, [row.reported_by_email for _, row in rows])
    commitment_ids = append_only.named_commitments(ctx, rows)
    ledger = append_only.Ledger[StatusUpdate](
        recorded={
            (u.commitment_id, u.reported_at, u.ministry_id, u.summary): u
            for u in repository.updates_of(session, commitment_ids)
        },
        noun="status update",
        key_column="summary",
        never_edited=NEVER_EDITED,
        values=_recorded,
    )
    replies: dict[tuple[int, datetime], list[Assessment]] = defaultdict(list)
    for a in repository.assessments_of(session, commitment_ids):
        replies[(a.commitment_id, a.assessed_at)].append(a)
    now = utcnow()
    for number, row in rows:
        before = len(errors.items)
        commitment = append_only.commitment_for(ctx, number, row.commitment_code, errors)
        ministry = ctx.ministries.get(row.ministry_code)
        if ministry is None:
            errors.add(number, "ministry_code", f"unknown ministry code {row.ministry_code!r}")
        elif commitment is not None and ministry.id not in {
            commitment.lead_ministry_id,
            *ctx.support.get(commitment.id or 0, set()),
        }:
            errors.add(
                number,
                "ministry_code",
                f"{row.ministry_code} neither leads nor supports {row.commitment_code}",
            )
        user = append_only.user_for(
            ctx,
            number,
            "reported_by_email",
            row.reported_by_email,
            REPORTER_ROLES,
            errors,
        )
        if (
            user is not None
            and ministry is not None
            and not reporting_service.may_report_for(
                Role(user.role), ctx.user_ministries.get(user.id or 0, set()), ministry.id or 0
            )
        ):
            errors.add(
                number,
                "reported_by_email",
                f"{row.reported_by_email} is not an officer of {row.ministry_code}",
            )
        append_only.not_future(number, "reported_at", row.reported_at, now, errors)
        problem = completion_problem(row.status, row.progress_percent)
        if problem is not None:
            errors.add(number, "progress_percent", problem)
        reply_id: int | None = None
        if row.in_reply_to is not None and commitment is not None:
            found = replies.get((commitment.id or 0, row.in_reply_to), [])
            if len(found) != 1:
                errors.add(
                    number,
                    "in_reply_to",
                    f"no assessment of {row.commitment_code} was made at that time"
                    if not found
                    else "several assessments were made at that time",
                )
            else:
                reply_id = found[0].id
        if len(errors.items) > before or commitment is None or ministry is None or user is None:
            continue
        key = (commitment.id, row.reported_at, ministry.id, row.summary)
        label = f"{row.commitment_code}@{timestamp_text(row.reported_at)}"
        values = {
            "status": row.status.value,
            "progress_percent": row.progress_percent,
            "reported_by_email": user.id,
            "evidence_urls": row.evidence_urls,
            "in_reply_to": reply_id,
        }
        if ledger.known(number, key, label, values, errors):
            continue
        body = StatusUpdateCreate(
            status=row.status,
            progress_percent=row.progress_percent,
            summary=row.summary,
            evidence=[EvidenceLink(url=u) for u in row.evidence_urls],
            in_reply_to_assessment_id=reply_id,
            ministry_id=ministry.id,
        )
        post = partial(
            reporting_service.post_update,
            session,
            ctx.actor(session, user),
            commitment.id or 0,
            body,
            reported_at=row.reported_at,
            imported_by=operator,
        )
        ledger.ops.append(Op(number, label, "created", (row.reported_at, number), post))
    return ledger.ops


def _recorded(old: StatusUpdate) -> dict[str, Any]:
    """A recorded update's values under the columns a row gives them in."""
    return {
        "status": old.status,
        "progress_percent": old.progress_percent,
        "reported_by_email": old.reported_by,
        "evidence_urls": append_only.urls(old.evidence),
        "in_reply_to": old.in_reply_to_assessment_id,
    }
