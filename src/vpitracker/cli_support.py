"""What the CLI needs besides its commands: opening the database, and one-line errors.

A user's mistake (a wrong URL, a missing database, a bad option value) must end in
one line saying what is wrong and what to do, never a traceback; and no error text
may carry a password, a token or a key (pydantic echoes ``input_value``, drivers can
echo URLs), so every line goes through :func:`redact` first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from vpitracker.config import DatabaseSettings
from vpitracker.errors import AppError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class CliError(Exception):
    """A user-facing failure: ``message`` is the whole story, ``code`` the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Need(Enum):
    """What a command expects of the database it opens."""

    # db upgrade, serve, seed demo: may create the SQLite file and the schema.
    create = "create"
    # export, backup, audit verify, users create, import: data must be there already.
    migrated = "migrated"


_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Never let ``value`` reach the terminal (see :func:`redact`)."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    secrets = set(_secrets)
    secrets.update(v for k, v in os.environ.items() if _looks_secret(k) and len(v) >= 4)
    url = os.environ.get("VPI_DATABASE_URL")
    if url:
        try:
            password = make_url(url).password
        except ArgumentError:
            password = None
        if password:
            secrets.add(str(password))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("VPI_") and any(
        word in upper for word in ("SECRET", "KEY", "PASSWORD", "TOKEN")
    )


def validation_message(exc: ValidationError) -> str:
    """Pydantic's errors without ``input_value`` (it would print a password back)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def settings_message(exc: ValidationError) -> str:
    return f"configuration: {validation_message(exc)}"


def database_settings() -> DatabaseSettings:
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        raise CliError(settings_message(exc), 2) from None


def database_url() -> str:
    return database_settings().database_url


def open_engine(need: Need) -> Engine:
    """The engine for ``VPI_DATABASE_URL``, after checks that give one clear line."""
    from vpitracker.db import make_engine, normalize_url

    settings = database_settings()
    raw = settings.database_url
    try:
        url = make_url(normalize_url(raw))
    except ArgumentError:
        raise CliError(
            "VPI_DATABASE_URL is not a database URL; use sqlite:///path/to/file.db or "
            "postgresql://user@host:5432/dbname",
            2,
        ) from None
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise CliError(
            f"VPI_DATABASE_URL names a {url.get_backend_name()} database; vpitracker runs on "
            "SQLite (sqlite:///file.db) or PostgreSQL (postgresql://user@host/dbname)",
            2,
        )
    if url.get_backend_name() == "sqlite":
        _check_sqlite_path(url.database, need)
    try:
        engine = make_engine(raw, lock_timeout=settings.database_lock_timeout_seconds)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise CliError(f"VPI_DATABASE_URL cannot be used: {exc}", 2) from None
    try:
        with engine.connect() as connection:
            if need is Need.migrated:
                _check_migrated(connection)
    except DBAPIError as exc:
        engine.dispose()
        raise CliError(connection_message(exc, url.database)) from None
    return engine


def _check_sqlite_path(database: str | None, need: Need) -> None:
    if database in (None, "", ":memory:") or str(database).startswith("file:"):
        return
    path = Path(str(database))
    if not path.parent.is_dir():
        raise CliError(
            f"the folder {path.parent} for the SQLite database does not exist; "
            "create it or fix VPI_DATABASE_URL"
        )
    if need is Need.migrated and not path.is_file():
        raise CliError(
            f"there is no database at {path}; check VPI_DATABASE_URL, or create one with "
            "`vpitracker db upgrade`"
        )


def _check_migrated(connection: Any) -> None:
    from vpitracker import migrate

    current = migrate.current_heads(connection)
    if not current:
        raise CliError("the database is not migrated; run `vpitracker db upgrade` first")
    if current != migrate.expected_heads():
        raise CliError(
            f"the database schema is at {', '.join(sorted(current))} but this vpitracker "
            f"expects {', '.join(sorted(migrate.expected_heads()))}; run `vpitracker db upgrade`"
        )


def connection_message(exc: DBAPIError, database: str | None) -> str:
    first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    if "does not exist" in first and database:
        return (
            f"the PostgreSQL database {database!r} does not exist; create it "
            f"(createdb {database}) or fix VPI_DATABASE_URL"
        )
    return f"cannot use the database ({first}); check VPI_DATABASE_URL and that it is running"


def explain(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit status for an error a user can fix; None for a bug."""
    from vpitracker.migrate import MigrationsNotFound

    if isinstance(exc, CliError):
        return exc.message, exc.code
    if isinstance(exc, AppError):
        details = [str(e.get("msg", "")) for e in exc.errors or [] if e.get("msg")]
        return "; ".join([exc.detail or exc.title, *details]), 1
    if isinstance(exc, ValidationError):
        if exc.title == "Settings":
            return settings_message(exc), 2
        return validation_message(exc), 1
    if isinstance(exc, MigrationsNotFound):
        return str(exc), 1
    if isinstance(exc, DBAPIError):
        return connection_message(exc, None), 1
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}; check VPI_DATABASE_URL", 1
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1
    return None


class App(typer.Typer):
    """A Typer app whose commands end a user's mistake with one line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            found = explain(exc)
            if found is None:
                raise
            message, code = found
            sys.stderr.write(f"error: {redact(message)}\n")
            sys.exit(code)


Progress = Callable[[int, int], None]


def on_terminal() -> bool:
    """Progress displays go to stderr, and only when a person is watching it."""
    return sys.stderr.isatty()


@contextmanager
def progress_bar(show: bool, label: str) -> Iterator[Progress | None]:
    """A transient progress display on stderr; ``None`` (nothing shown) when ``show`` is off."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(stderr=True), transient=True) as display:
        task = display.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            display.update(task, completed=done, total=total or None)

        yield advance


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` and give the exit to raise (for checks inside commands)."""
    typer.echo(f"error: {redact(message)}", err=True)
    return typer.Exit(code)
