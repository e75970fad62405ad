"""Queries for the outbox, subscriptions, deliveries and queued mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import delete, exists, func, or_, select, update
from sqlmodel import Session, col

from vpitracker.db import is_postgres
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.state import state_subquery
from vpitracker.models import (
    AuditEvent,
    Commitment,
    CommitmentSupport,
    DigestRun,
    MailMessage,
    NotifiedTransition,
    OutboxEvent,
    User,
    UserMinistry,
    WebhookDelivery,
    WebhookSubscription,
)
from vpitracker.pagination import PageRequest, paginate


def try_lock(session: Session, key: int) -> bool:
    """A transaction-scoped PostgreSQL advisory lock; SQLite's single writer is one already."""
    if not is_postgres(session):
        return True
    return bool(session.execute(select(func.pg_try_advisory_xact_lock(key))).scalar())


# --- outbox ---


def claim_outbox(session: Session, *, limit: int) -> Sequence[OutboxEvent]:
    stmt = (
        select(OutboxEvent)
        .where(col(OutboxEvent.dispatched_at).is_(None))
        .order_by(col(OutboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.execute(stmt).scalars().all()


def outbox_depth(session: Session) -> tuple[int, int]:
    """Undispatched outbox rows, and deliveries still waiting."""
    events = session.execute(
        select(func.count()).where(col(OutboxEvent.dispatched_at).is_(None))
    ).scalar_one()
    deliveries = session.execute(
        select(func.count()).where(
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.failed_at).is_(None),
        )
    ).scalar_one()
    return int(events), int(deliveries)


def purge(session: Session, *, before: datetime) -> int:
    """Drop dispatched events older than ``before`` with nothing left to deliver."""
    pending = exists().where(
        col(WebhookDelivery.outbox_event_id) == col(OutboxEvent.id),
        col(WebhookDelivery.delivered_at).is_(None),
    )
    result = session.execute(
        delete(OutboxEvent).where(
            col(OutboxEvent.dispatched_at) < before,
            ~pending,
        )
    )
    session.execute(delete(MailMessage).where(col(MailMessage.sent_at) < before))
    return int(getattr(result, "rowcount", 0))


# --- subscriptions ---


def active_subscriptions(session: Session) -> Sequence[WebhookSubscription]:
    stmt = select(WebhookSubscription).where(col(WebhookSubscription.active).is_(True))
    return session.execute(stmt).scalars().all()


def list_subscriptions(
    session: Session, *, page: PageRequest
) -> tuple[list[WebhookSubscription], str | None]:
    return paginate(
        session,
        select(WebhookSubscription),
        page=page,
        sort_columns={"id": col(WebhookSubscription.id)},
        id_column=col(WebhookSubscription.id),
    )


def claim_subscriptions(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> list[int]:
    """Lease active subscriptions that have a delivery due, one worker each."""
    due = exists().where(
        col(WebhookDelivery.subscription_id) == col(WebhookSubscription.id),
        col(WebhookDelivery.delivered_at).is_(None),
        col(WebhookDelivery.failed_at).is_(None),
        col(WebhookDelivery.next_attempt_at) <= now,
    )
    stmt = (
        select(col(WebhookSubscription.id))
        .where(
            col(WebhookSubscription.active).is_(True),
            or_(
                col(WebhookSubscription.lease_until).is_(None),
                col(WebhookSubscription.lease_until) < now,
            ),
            due,
        )
        .order_by(col(WebhookSubscription.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [int(i) for i in session.execute(stmt).scalars()]
    if ids:
        session.execute(
            update(WebhookSubscription)
            .where(col(WebhookSubscription.id).in_(ids))
            .values(lease_until=lease_until)
        )
    return ids


def release(session: Session, subscription_id: int) -> None:
    session.execute(
        update(WebhookSubscription)
        .where(col(WebhookSubscription.id) == subscription_id)
        .values(lease_until=None)
    )


# --- deliveries ---


def head_delivery(session: Session, subscription_id: int) -> WebhookDelivery | None:
    """The oldest undelivered event of a subscription: delivery follows the audit order."""
    stmt = (
        select(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription_id,
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.failed_at).is_(None),
        )
        .order_by(col(WebhookDelivery.outbox_event_id), col(WebhookDelivery.id))
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def list_deliveries(
    session: Session, subscription_id: int, *, page: PageRequest
) -> tuple[list[WebhookDelivery], str | None]:
    return paginate(
        session,
        select(WebhookDelivery).where(col(WebhookDelivery.subscription_id) == subscription_id),
        page=page,
        sort_columns={"id": col(WebhookDelivery.id)},
        id_column=col(WebhookDelivery.id),
    )


# --- mail ---


def claim_mail(
    session: Session, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[MailMessage]:
    stmt = (
        select(MailMessage)
        .where(
            col(MailMessage.sent_at).is_(None),
            col(MailMessage.failed_at).is_(None),
            col(MailMessage.next_attempt_at) <= now,
            or_(col(MailMessage.lease_until).is_(None), col(MailMessage.lease_until) < now),
        )
        .order_by(col(MailMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(stmt).scalars().all()
    for row in rows:
        row.lease_until = lease_until
    return rows


def officers_of(session: Session, ministry_ids: list[int]) -> Sequence[User]:
    stmt = (
        select(User)
        .join(UserMinistry, col(UserMinistry.user_id) == col(User.id))
        .where(
            col(UserMinistry.ministry_id).in_(ministry_ids),
            col(User.is_active).is_(True),
            col(User.role) == "government_officer",
        )
        .distinct()
        .order_by(col(User.id))
    )
    return session.execute(stmt).scalars().all()


def users_with_role(session: Session, role: str) -> Sequence[User]:
    stmt = (
        select(User)
        .where(col(User.role) == role, col(User.is_active).is_(True))
        .order_by(col(User.id))
    )
    return session.execute(stmt).scalars().all()


def ministries_of(session: Session, user_id: int) -> list[int]:
    stmt = select(col(UserMinistry.ministry_id)).where(col(UserMinistry.user_id) == user_id)
    return list(session.execute(stmt).scalars())


# --- time-based transitions and digests ---


class OpenCommitment(NamedTuple):
    """What the transition scan and the digest read of an open commitment, now."""

    id: int
    code: str
    title: str
    lead_ministry_id: int
    due_date: date
    committed_on: date
    last_reported_at: datetime | None
    overdue: bool
    stale: bool
    contested: bool
    reported_status: str


def commitment_states(session: Session, *, stale_after_days: int) -> list[OpenCommitment]:
    """Every open (non-archived) commitment with its derived state now."""
    state = state_subquery(Clock.at(None, stale_after_days))
    stmt = (
        select(
            col(Commitment.id),
            col(Commitment.code),
            col(Commitment.title),
            col(Commitment.lead_ministry_id),
            col(Commitment.due_date),
            col(Commitment.committed_on),
            state.c.last_reported_at,
            state.c.overdue,
            state.c.stale,
            state.c.contested,
            state.c.reported_status,
        )
        .join(state, state.c.commitment_id == col(Commitment.id))
        .where(col(Commitment.archived_at).is_(None))
        .order_by(col(Commitment.id))
    )
    return [
        OpenCommitment(
            r.id,
            r.code,
            r.title,
            r.lead_ministry_id,
            r.due_date,
            r.committed_on,
            r.last_reported_at,
            # SQLite answers CASE ... THEN TRUE with 1 and 0.
            bool(r.overdue),
            bool(r.stale),
            bool(r.contested),
            r.reported_status,
        )
        for r in session.execute(stmt)
    ]


def notified(session: Session, kinds: list[str]) -> set[tuple[int, str, str]]:
    stmt = select(
        col(NotifiedTransition.commitment_id),
        col(NotifiedTransition.kind),
        col(NotifiedTransition.occurrence),
    ).where(col(NotifiedTransition.kind).in_(kinds))
    return {(int(a), str(b), str(c)) for a, b, c in session.execute(stmt).all()}


def all_supporting(session: Session) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for commitment_id, ministry_id in session.execute(
        select(col(CommitmentSupport.commitment_id), col(CommitmentSupport.ministry_id))
    ).all():
        found.setdefault(int(commitment_id), []).append(int(ministry_id))
    return found


def actions_since(session: Session, since: datetime) -> list[tuple[str, int]]:
    stmt = (
        select(col(AuditEvent.action), func.count())
        .where(col(AuditEvent.at) >= since)
        .group_by(col(AuditEvent.action))
        .order_by(col(AuditEvent.action))
    )
    return [(str(a), int(n)) for a, n in session.execute(stmt).all()]


def digest_done(session: Session, week: str) -> bool:
    return session.get(DigestRun, week) is not None
