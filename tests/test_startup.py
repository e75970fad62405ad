"""What ``serve`` prints on every start: where to go, and (development) how to sign in."""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlmodel import Session

from tests.conftest import test_settings
from tests.factories import make_user
from vpitracker import demo
from vpitracker.config import DEV_SECRET_KEY, Environment
from vpitracker.startup import startup_lines
from vpitracker.vocab import Role


def test_serve_names_the_docs_url_a_browser_can_open(connection: Connection) -> None:
    lines = startup_lines(test_settings(), connection, "0.0.0.0", 8010)
    assert any("http://127.0.0.1:8010/docs" in line for line in lines)
    assert any(line.endswith("http://127.0.0.1:8010/") for line in lines)
    assert not any("password" in line for line in lines)  # not in production or test mode


def test_development_mode_lists_the_demo_logins(connection: Connection, session: Session) -> None:
    secretariat = demo.secretariat_email()
    make_user(session, Role.secretariat, email=secretariat)
    session.commit()
    settings = test_settings(env=Environment.development, secret_key=DEV_SECRET_KEY)
    text = "\n".join(startup_lines(settings, connection, "127.0.0.1", 8000))
    assert "http://127.0.0.1:8000/docs" in text
    assert secretariat in text
    assert demo.DEMO_PASSWORD in text
    # only accounts that exist are offered
    others = [u["email"] for u in demo.scenario()["users"] if u["email"] != secretariat]
    assert not any(email in text for email in others)
