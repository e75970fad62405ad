"""Email: rendered in the reader's language, queued in the outbox's transaction, sent by SMTP.

``VPI_SMTP_URL``: ``smtp://host:25`` (plain, for a local relay), ``smtp+starttls://user:pass@host:587``
(STARTTLS required) or ``smtps://user:pass@host:465`` (TLS from the first byte).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
from sqlalchemy import Engine
from sqlmodel import Session

from vpitracker import i18n
from vpitracker.config import Settings
from vpitracker.db import unit_of_work
from vpitracker.models import MailMessage, OutboxEvent, User, WebhookSubscription, utcnow
from vpitracker.notifications import metrics, repository
from vpitracker.notifications.delivery import retry_delay
from vpitracker.outbox.events import EventType, parse_list

logger = logging.getLogger("vpitracker.notifications")
_ = i18n.N_


def enabled(settings: Settings) -> bool:
    return bool(settings.smtp_url)


def prefs(user: User) -> dict[str, Any]:
    value = json.loads(user.notify)
    assert isinstance(value, dict)
    return value


@lru_cache(maxsize=8)
def _env(lang: str, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vpitracker.notifications", "templates"),
        autoescape=html,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def link(settings: Settings, path: str) -> str | None:
    return settings.public_url.rstrip("/") + path if settings.public_url else None


def render(
    settings: Settings, user: User, kind: str, subject: str, context: dict[str, Any]
) -> MailMessage:
    """One message for ``user`` from ``templates/<kind>.txt`` and ``.html``."""
    lang = user.language or i18n.DEFAULT
    values = {**context, "user": user, "public_url": settings.public_url}
    return MailMessage(
        kind=kind,
        to_address=user.email,
        subject=i18n.gettext(lang, subject).format(**context),
        text_body=_env(lang, False).get_template(f"{kind}.txt").render(values),
        html_body=_env(lang, True).get_template(f"{kind}.html").render(values),
    )


def for_event(session: Session, settings: Settings, event: OutboxEvent) -> None:
    """Immediate mail an event calls for: a dispute, to the officers concerned."""
    if not enabled(settings) or event.type != EventType.commitment_disputed.value:
        return
    data = json.loads(event.body)["data"]
    context = {
        "code": data["commitment_code"],
        "rationale": data["entity"].get("rationale", ""),
        "link": link(settings, f"/commitments/{data['commitment_id']}"),
    }
    for officer in repository.officers_of(session, parse_list(event.ministry_ids)):
        if prefs(officer).get("disputes", True):
            session.add(
                render(settings, officer, "disputed", _("The alliance disputes {code}"), context)
            )


def subscription_disabled(session: Session, settings: Settings, sub: WebhookSubscription) -> None:
    """Tell the secretariat a webhook subscription was switched off, and why."""
    if not enabled(settings):
        return
    context = {"id": sub.id, "url": sub.url, "reason": sub.disabled_reason or ""}
    for user in repository.users_with_role(session, "secretariat"):
        session.add(render(settings, user, "disabled", _("Webhook {id} was disabled"), context))


def _connect(settings: Settings) -> smtplib.SMTP:
    assert settings.smtp_url
    url = urlsplit(settings.smtp_url)
    host = url.hostname or "localhost"
    timeout = 30
    if url.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, url.port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, url.port or 25, timeout=timeout)
        if url.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
    if url.username:
        smtp.login(unquote(url.username), unquote(url.password or ""))
    return smtp


def _message(settings: Settings, row: MailMessage) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = f"<vpitracker-mail-{row.id}@{settings.mail_from.split('@')[-1]}>"
    msg.set_content(row.text_body)
    msg.add_alternative(row.html_body, subtype="html")
    return msg


def deliver(engine: Engine, settings: Settings) -> int:
    """Send the queued mail that is due; returns how many went out."""
    if not enabled(settings):
        return 0
    now = utcnow()
    with unit_of_work(engine) as session:
        rows = repository.claim_mail(
            session, now=now, lease_until=now + timedelta(minutes=5), limit=50
        )
        messages = [(row.id, _message(settings, row)) for row in rows]
    if not messages:
        return 0
    results: dict[int, str | None] = {}
    try:
        with _connect(settings) as smtp:
            for mail_id, msg in messages:
                assert mail_id is not None
                try:
                    smtp.send_message(msg)
                    results[mail_id] = None
                except smtplib.SMTPException as exc:
                    results[mail_id] = f"{type(exc).__name__}: {exc}"[:500]
    except (OSError, smtplib.SMTPException) as exc:
        for mail_id, _msg in messages:
            assert mail_id is not None
            results.setdefault(mail_id, f"{type(exc).__name__}: {exc}"[:500])
    return _record(engine, settings, results)


def _record(engine: Engine, settings: Settings, results: dict[int, str | None]) -> int:
    sent = 0
    with unit_of_work(engine) as session:
        for mail_id, error in results.items():
            row = session.get(MailMessage, mail_id)
            if row is None:
                continue
            row.attempts += 1
            row.lease_until = None
            row.last_error = error
            metrics.MAIL.labels("sent" if error is None else "failed").inc()
            if error is None:
                row.sent_at = utcnow()
                sent += 1
                continue
            delay = retry_delay(settings, row.attempts)
            if delay is None:
                row.failed_at = utcnow()
            else:
                row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            logger.warning("mail not sent", extra={"fields": {"mail_id": mail_id, "error": error}})
    return sent
