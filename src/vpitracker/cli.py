"""The ``vpitracker`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from vpitracker.audit import cli as audit_cli
from vpitracker.cli_support import (
    App,
    Need,
    fail,
    on_terminal,
    open_engine,
    progress_bar,
    remember_secret,
)
from vpitracker.config import DatabaseSettings, Environment, get_settings
from vpitracker.notifications import cli as notifications_cli
from vpitracker.transfer.schemas import ExportFormat, ImportReport, Kind

app = App(
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
audit_cli.register(audit_app)
app.add_typer(audit_cli.log_app, name="log")
notifications_cli.register(app)

DEFAULT_OPENAPI = Path("openapi/openapi.json")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    worker: Annotated[
        bool, typer.Option(help="Run the notification worker in this process too")
    ] = True,
) -> None:
    """Apply migrations, then serve the API (and run the notification worker)."""
    import uvicorn

    from vpitracker import migrate
    from vpitracker.notifications.worker import start_background
    from vpitracker.startup import startup_lines

    settings = get_settings()  # refuse a bad configuration before anything else
    engine = open_engine(Need.create)
    migrate.upgrade(engine)
    for line in startup_lines(settings, engine, host, port):
        typer.echo(line, err=True)
    background = start_background(engine, settings) if worker else None
    if background is not None and workers > 1 and settings.worker_metrics_port is not None:
        # The worker thread lives in this supervising process, not in the API
        # processes whose /metrics answer: its attempt counters are served here.
        from vpitracker.notifications import metrics

        metrics.serve_alone(engine, settings.worker_metrics_host, settings.worker_metrics_port)
    uvicorn.run(
        "vpitracker.main:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Forwarded headers count only from the configured proxies: from anyone
        # else they would let a client pick the address the sign-in throttle sees.
        proxy_headers=bool(settings.trusted_proxies.strip()),
        forwarded_allow_ips=settings.trusted_proxies.strip() or None,
        log_level="warning",
        # Our own JSON access log redacts secrets such as ?api_key=.
        access_log=False,
    )
    if background is not None:
        background[1].set()
        background[0].join(timeout=15)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default head)."""
    from vpitracker import migrate

    migrate.upgrade(open_engine(Need.create), revision)
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
    from vpitracker.db import unit_of_work
    from vpitracker.errors import AppError
    from vpitracker.ministries import repository as ministries_repository
    from vpitracker.users import service as users_service
    from vpitracker.users.schemas import UserCreate

    if not password_stdin:
        raise fail("pass --password-stdin and the password on standard input", 2)
    password = sys.stdin.readline().rstrip("\r\n")
    remember_secret(password)
    with unit_of_work(open_engine(Need.migrated)) as session:
        found = ministries_repository.by_codes(session, ministry or [])
        unknown = sorted(set(ministry or []) - set(found))
        if unknown:
            raise AppError(
                "unknown ministry code(s) %(codes)s: create the ministry first "
                "(POST /v1/ministries or `vpitracker import ministries`)",
                codes=", ".join(unknown),
            )
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
    typer.echo(json.dumps({"id": user_id, "email": email.lower(), "role": role}))


@audit_app.command("verify")
def audit_verify(
    expected_head: Annotated[
        str | None, typer.Option(help="A published head SEQ:HASH that must still be in the chain")
    ] = None,
) -> None:
    """Recompute the audit chain; exit 1 and name the first bad seq when it is broken."""
    from vpitracker.audit import service as audit_service
    from vpitracker.audit.schemas import VerifyResult
    from vpitracker.db import open_session

    from_seq = expected_hash = None
    if expected_head:
        seq_text, _, expected_hash = expected_head.partition(":")
        if not seq_text.isdigit() or len(expected_hash) != 64:
            raise fail("--expected-head must be SEQ:HASH", 2)
        from_seq = int(seq_text)
    with (
        open_session(open_engine(Need.migrated), write=False) as session,
        progress_bar(on_terminal(), "verifying the audit chain") as progress,
    ):
        result = audit_service.verify(
            session, from_seq=from_seq, expected_hash=expected_hash, progress=progress
        )
    typer.echo(json.dumps(VerifyResult.of(result).model_dump(mode="json")))
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
    from vpitracker.db import unit_of_work

    if DatabaseSettings().env is Environment.production:
        raise fail("seed demo runs only with VPI_ENV=development or test", 2)
    engine = open_engine(Need.create)
    migrate.upgrade(engine)
    with unit_of_work(engine) as session:
        if not demo.is_empty(session):
            if if_empty:
                return
            raise fail("the database already has data; the demo was not loaded")
        with progress_bar(on_terminal(), "loading the demo") as progress:
            counts = demo.load(session, progress=progress)
    typer.echo(json.dumps(counts))
    typer.echo(
        f"Demo loaded. Sign in as {demo.secretariat_email()} with password "
        f"{demo.DEMO_PASSWORD!r} (development only); `vpitracker serve` lists every login."
    )


def _wants_human(json_output: bool) -> bool:
    """Human-readable output on a terminal; JSON for scripts, pipes and --json."""
    return not json_output and sys.stdout.isatty()


def _print_import_report(report: ImportReport, source: str, human: bool) -> None:
    if not human:
        typer.echo(report.model_dump_json(indent=2))
        return
    if report.errors:
        typer.echo(f"{source}: {len(report.errors)} problem(s); nothing was imported")
        for error in report.errors:
            where = ", ".join(
                f"row {p}" if isinstance(p, int) else f"column {p}" for p in error.loc
            )
            typer.echo(f"  {where or 'file'}: {error.msg}")
        return
    counts = report.counts
    typer.echo(
        f"{report.kind.value} from {source}: {counts.created} created, "
        f"{counts.updated} updated, {counts.unchanged} unchanged"
    )
    for label, keys in (("created", report.created), ("updated", report.updated)):
        if keys:
            typer.echo(f"  {label}: {', '.join(keys)}")
    if report.dry_run:
        typer.echo("dry run: nothing was written")


@app.command("import")
def import_(
    kind: Annotated[Kind, typer.Argument(help="What the file holds", case_sensitive=False)],
    file: Annotated[
        Path,
        typer.Argument(
            help="A .csv (UTF-8) or .xlsx file with the export's columns",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    as_email: Annotated[
        str, typer.Option("--as", help="Email of the active secretariat user importing")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Answer in JSON")] = False,
) -> None:
    """Import ministries, recommendations, commitments, status updates or assessments.

    Every row is checked first; one bad row and nothing is written (exit 1).
    """
    from vpitracker.db import unit_of_work
    from vpitracker.errors import AppError
    from vpitracker.transfer import service as transfer_service

    human = _wants_human(json_output)
    try:
        # Read and checked before the transaction: no lock is held while the file is read.
        parsed = transfer_service.read_file(kind, file.read_bytes(), file.name, dry_run=dry_run)
        with (
            unit_of_work(open_engine(Need.migrated), write=not dry_run) as session,
            progress_bar(human and not dry_run, f"importing {kind.value}") as progress,
        ):
            actor = transfer_service.operator(session, as_email)
            report = transfer_service.run_import(
                session, actor, parsed, dry_run=dry_run, progress=progress
            )
    except transfer_service.ImportRejected as exc:
        _print_import_report(exc.report, file.name, human)
        raise typer.Exit(1) from exc
    except AppError as exc:
        raise fail(exc.detail, 2) from exc
    _print_import_report(report, file.name, human)


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the files into")],
    format: Annotated[
        ExportFormat, typer.Option("--format", help="csv | xlsx | jsonl", case_sensitive=False)
    ] = ExportFormat.csv,
    json_output: Annotated[bool, typer.Option("--json", help="Answer in JSON")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files of an earlier export in OUT")
    ] = False,
) -> None:
    """Export every kind, one file each (xlsx: one workbook, a sheet per kind)."""
    from vpitracker.db import unit_of_work
    from vpitracker.transfer import export as transfer_export

    existing = [n for n in transfer_export.export_file_names(format) if (out / n).exists()]
    if existing and not force:
        raise fail(
            f"{out} already holds {', '.join(existing)}; choose another folder or pass --force"
        )
    engine = open_engine(Need.migrated)
    if engine.dialect.name == "postgresql":
        # One snapshot for every file, even while the server writes.
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with (
        unit_of_work(engine, write=False) as session,
        progress_bar(on_terminal(), f"exporting {format.value}") as progress,
    ):
        written = transfer_export.export(session, format, out, progress=progress)
    if _wants_human(json_output):
        for name, rows in written.items():
            typer.echo(f"{out / name}: {rows} rows")
    else:
        typer.echo(json.dumps({"format": format.value, "out": str(out), "files": written}))


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write")],
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists")] = False,
) -> None:
    """Back up the database while the server runs (SQLite copy or pg_dump custom format)."""
    from vpitracker.backup import BackupError
    from vpitracker.backup import backup as make_backup
    from vpitracker.cli_support import database_url

    open_engine(Need.migrated).dispose()  # a misspelt path must not back up an empty file
    try:
        with progress_bar(on_terminal(), f"backing up to {out}") as progress:
            path = make_backup(database_url(), out, overwrite=force, progress=progress)
    except BackupError as exc:
        raise fail(str(exc)) from exc
    typer.echo(json.dumps({"backup": str(path), "bytes": path.stat().st_size}))
