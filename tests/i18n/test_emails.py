"""Emails are written in the recipient's language; what people wrote stays as written."""

from __future__ import annotations

from sqlmodel import Session

from tests.factories import make_user
from vpitracker.config import Settings
from vpitracker.models import MailMessage
from vpitracker.notifications import mail
from vpitracker.vocab import Role

RATIONALE = "The report says completed, but no regulations were gazetted."


def disputed(session: Session, settings: Settings, language: str) -> MailMessage:
    user = make_user(session, Role.government_officer, language=language)
    context = {"code": "VPI-C-01", "rationale": RATIONALE, "link": None}
    return mail.render(settings, user, "disputed", "The alliance disputes {code}", context)


def test_a_kiswahili_officer_gets_the_dispute_in_kiswahili(
    session: Session, settings: Settings
) -> None:
    message = disputed(session, settings, "sw")
    assert message.subject == "Muungano unapinga ahadi VPI-C-01"
    assert "Muungano unapinga taarifa ya hivi punde kuhusu ahadi VPI-C-01:" in message.text_body
    assert "taarifa ya hali inayojibu tathmini hii" in message.text_body
    assert RATIONALE in message.text_body
    assert '<html lang="sw">' in message.html_body
    assert "mipangilio yako ya arifa" in message.html_body


def test_an_english_officer_gets_english(session: Session, settings: Settings) -> None:
    message = disputed(session, settings, "en")
    assert message.subject == "The alliance disputes VPI-C-01"
    assert "The alliance disputes the latest report on commitment VPI-C-01:" in message.text_body
    assert '<html lang="en">' in message.html_body
