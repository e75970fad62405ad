"""What ``vpitracker serve`` prints on every start: where to go, and how to sign in."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from vpitracker import __version__
from vpitracker.config import Environment, Settings

_ANY_ADDRESS = {"0.0.0.0", "::", ""}


def base_url(host: str, port: int) -> str:
    """A URL a browser on this machine can open (not the wildcard bind address)."""
    shown = "127.0.0.1" if host in _ANY_ADDRESS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def places(base: str) -> list[tuple[str, str]]:
    """(label, URL) of what a newcomer opens first."""
    return [
        ("Web pages", f"{base}/"),
        ("API docs", f"{base}/docs"),
        ("OpenAPI", f"{base}/openapi.json"),
    ]


def startup_lines(
    settings: Settings, engine: Engine | Connection, host: str, port: int
) -> list[str]:
    base = base_url(host, port)
    lines = [f"vpitracker {__version__} ({settings.env.value} mode) serving on {base}"]
    lines += [f"  {label + ':':<10} {url}" for label, url in places(base)]
    if settings.env is Environment.development:
        lines += _demo_logins(engine)
    return lines


def _demo_logins(engine: Engine | Connection) -> list[str]:
    from vpitracker import demo
    from vpitracker.models import User

    wanted = {u["email"]: u["role"] for u in demo.scenario()["users"]}
    with Session(engine) as session:
        found = session.exec(select(User.email).where(col(User.email).in_(wanted))).all()
    if not found:
        return ["  No demo data: `vpitracker seed demo` loads it (development only)."]
    lines = [f"  Demo logins (development only), password {demo.DEMO_PASSWORD!r}:"]
    lines += [f"    {email:<40} {wanted[email]}" for email in sorted(found, key=list(wanted).index)]
    return lines
