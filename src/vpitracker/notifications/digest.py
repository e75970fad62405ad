"""The weekly digest: each officer's commitments needing attention, the secretariat's summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from vpitracker import i18n
from vpitracker.config import Settings
from vpitracker.db import unit_of_work
from vpitracker.models import DigestRun, MailMessage, User, utcnow
from vpitracker.notifications import mail, repository
from vpitracker.notifications.repository import OpenCommitment
from vpitracker.vocab import ReportedStatus, Role

_ = i18n.N_
DIGEST_LOCK = 0x5650_4903
SECTIONS = (
    ("overdue", _("Overdue")),
    ("stale", _("No report for a long time")),
    ("contested", _("Disputed, awaiting your reply")),
)


def week_due(settings: Settings, now: datetime) -> str | None:
    """This ISO week's key once its digest moment (local day and hour) has passed."""
    local = now.astimezone(ZoneInfo(settings.digest_timezone))
    start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    moment = start + timedelta(days=settings.digest_weekday, hours=settings.digest_hour)
    if local < moment:
        return None
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}"


def _officer(
    session: Session,
    settings: Settings,
    user: User,
    rows: list[OpenCommitment],
    supporting: dict[int, list[int]],
) -> MailMessage | None:
    assert user.id is not None
    mine = set(repository.ministries_of(session, user.id))
    concerned = [r for r in rows if mine & {r.lead_ministry_id, *supporting.get(r.id, [])}]
    lang = user.language
    sections = [
        {
            "title": i18n.gettext(lang, title),
            "rows": [
                {
                    "code": r.code,
                    "title": r.title,
                    "link": mail.link(settings, f"/commitments/{r.id}"),
                }
                for r in concerned
                if getattr(r, field)
            ],
        }
        for field, title in SECTIONS
    ]
    if not any(s["rows"] for s in sections):
        return None
    return mail.render(
        settings,
        user,
        "digest_officer",
        _("vpitracker: your weekly digest"),
        {"sections": sections},
    )


def _secretariat(
    session: Session, settings: Settings, user: User, rows: list[OpenCommitment], now: datetime
) -> MailMessage:
    lang = user.language
    t = i18n.gettext
    summary = [
        (t(lang, "Commitments"), len(rows)),
        (
            t(lang, "Completed"),
            sum(r.reported_status == ReportedStatus.completed.value for r in rows),
        ),
        (t(lang, "Overdue"), sum(bool(r.overdue) for r in rows)),
        (t(lang, "No report for a long time"), sum(bool(r.stale) for r in rows)),
        (t(lang, "Contested"), sum(bool(r.contested) for r in rows)),
    ]
    changes = repository.actions_since(session, now - timedelta(days=7))
    return mail.render(
        settings,
        user,
        "digest_secretariat",
        _("vpitracker: the alliance's week"),
        {"summary": summary, "changes": changes},
    )


def build(session: Session, settings: Settings, now: datetime) -> list[MailMessage]:
    """Every digest due to the users who want one (nothing is saved)."""
    rows = list(repository.commitment_states(session, stale_after_days=settings.stale_after_days))
    supporting = repository.all_supporting(session)
    messages: list[MailMessage] = []
    for user in repository.users_with_role(session, Role.government_officer.value):
        if mail.prefs(user).get("digest") == "weekly":
            message = _officer(session, settings, user, rows, supporting)
            if message is not None:
                messages.append(message)
    for user in repository.users_with_role(session, Role.secretariat.value):
        if mail.prefs(user).get("digest") == "weekly":
            messages.append(_secretariat(session, settings, user, rows, now))
    return messages


def queue_weekly(engine: Engine, settings: Settings) -> int:
    """Queue this week's digests once, after the configured moment (also after downtime)."""
    now = utcnow()
    week = week_due(settings, now)
    if week is None or not mail.enabled(settings):
        return 0
    with unit_of_work(engine, write=False) as session:
        if repository.digest_done(session, week):
            return 0
    with unit_of_work(engine) as session:
        if not repository.try_lock(session, DIGEST_LOCK) or repository.digest_done(session, week):
            return 0
        session.add(DigestRun(week=week))
        messages = build(session, settings, now)
        session.add_all(messages)
        return len(messages)
