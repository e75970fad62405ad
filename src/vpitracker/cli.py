"""The ``vpitracker`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from vpitracker.config import get_settings

app = typer.Typer(
    help="vpitracker: oversight of UNTOC commitments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit chain.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")

DEFAULT_OPENAPI = Path("openapi/openapi.json")


def _engine() -> Engine:
    from vpitracker.db import get_engine

    return get_engine()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Apply migrations, then serve the API."""
    import uvicorn

    from vpitracker import migrate

    get_settings()  # refuse a bad configuration before anything else
    migrate.upgrade(_engine())
    uvicorn.run(
        "vpitracker.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        log_level="warning",
        # Our own JSON access log redacts secrets such as ?api_key=.
        access_log=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default head)."""
    from vpitracker import migrate

    migrate.upgrade(_engine(), revision)
    typer.echo(f"database at {revision}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    role: Annotated[
        str, typer.Option(help="secretariat | alliance_member | government_officer | viewer")
    ],
    full_name: Annotated[str | None, typer.Option(help="Display name")] = None,
    organization: Annotated[str | None, typer.Option(help="Organization")] = None,
    ministry: Annotated[
        list[str] | None, typer.Option(help="Ministry code (officers; repeatable)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user account (e.g. the first secretariat on a fresh install)."""
    from pydantic import ValidationError

    from vpitracker.db import unit_of_work
    from vpitracker.errors import AppError
    from vpitracker.ministries import repository as ministries_repository
    from vpitracker.users import service as users_service
    from vpitracker.users.schemas import UserCreate

    if not password_stdin:
        typer.echo("Pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with unit_of_work(_engine()) as session:
            found = ministries_repository.by_codes(session, ministry or [])
            unknown = sorted(set(ministry or []) - set(found))
            if unknown:
                raise AppError(f"Unknown ministry code(s): {unknown}")
            data = UserCreate.model_validate(
                {
                    "email": email,
                    "full_name": full_name or email.split("@")[0],
                    "role": role,
                    "organization": organization,
                    "ministry_ids": [m.id for m in found.values()],
                    "password": password,
                }
            )
            user_id = users_service.create(session, None, data).id
    except (AppError, ValidationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps({"id": user_id, "email": email.lower(), "role": role}))


@audit_app.command("verify")
def audit_verify(
    expected_head: Annotated[
        str | None, typer.Option(help="A published head SEQ:HASH that must still be in the chain")
    ] = None,
) -> None:
    """Recompute the audit chain; exit 1 and name the first bad seq when it is broken."""
    from vpitracker.audit import service as audit_service
    from vpitracker.db import open_session

    from_seq = expected_hash = None
    if expected_head:
        seq_text, _, expected_hash = expected_head.partition(":")
        if not seq_text.isdigit() or len(expected_hash) != 64:
            typer.echo("--expected-head must be SEQ:HASH", err=True)
            raise typer.Exit(2)
        from_seq = int(seq_text)
    with open_session(_engine(), write=False) as session:
        result = audit_service.verify(session, from_seq=from_seq, expected_hash=expected_hash)
    typer.echo(
        json.dumps(
            {
                "ok": result.ok,
                "checked": result.checked,
                "head": {"seq": result.head_seq, "hash": result.head_hash},
                "first_bad_seq": result.first_bad_seq,
                "detail": result.detail,
            }
        )
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def openapi(
    out: Annotated[Path, typer.Option(help="Where to write the document")] = DEFAULT_OPENAPI,
    check: Annotated[bool, typer.Option(help="Exit 1 if the file differs from the app")] = False,
) -> None:
    """Write (or --check) the OpenAPI document."""
    from vpitracker.openapi_doc import render

    text = render()
    if check:
        current = out.read_text("utf-8") if out.exists() else ""
        if current != text:
            typer.echo(f"{out} is out of date: run `vpitracker openapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out} is up to date")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, "utf-8")
    typer.echo(f"wrote {out}")


seed_app = typer.Typer(help="Sample data.", no_args_is_help=True)
app.add_typer(seed_app, name="seed")


@seed_app.command("demo")
def seed_demo(
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing (quietly) when the database already has data")
    ] = False,
) -> None:
    """Load the Kenyan demo scenario (development mode only; never twice)."""
    from vpitracker import demo, migrate
    from vpitracker.config import Environment
    from vpitracker.db import unit_of_work

    settings = get_settings()
    if settings.env is Environment.production:
        typer.echo("seed demo runs only with VPI_ENV=development or test", err=True)
        raise typer.Exit(2)
    engine = _engine()
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        if not demo.is_empty(session):
            if if_empty:
                return
            typer.echo("the database already has data; the demo was not loaded", err=True)
            raise typer.Exit(1)
        counts = demo.load(session)
    typer.echo(json.dumps(counts))
    typer.echo(
        f"Demo loaded. Sign in as {demo.secretariat_email()} with password "
        f"{demo.DEMO_PASSWORD!r} (development only) at http://127.0.0.1:8000/docs"
    )
