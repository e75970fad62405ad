"""Test database, per-test rollback, and an HTTP client against the ASGI app.

The schema is built by the Alembic migrations. Each test runs inside one outer
transaction that is rolled back; the app's own commits become SAVEPOINT releases
(``join_transaction_mode="create_savepoint"``). Set ``VPI_TEST_DATABASE_URL`` to
run the same suite on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session

from tests.factories import make_commitment, make_ministry, make_user, pk, record_created
from tests.resources import Context, ContextMaker, resource
from vpitracker import migrate
from vpitracker.auth import passwords
from vpitracker.config import Environment, Settings
from vpitracker.db import make_engine, normalize_url, transaction
from vpitracker.deps import get_read_first_session, get_session, get_stream_opener
from vpitracker.kernel.actor import Actor
from vpitracker.main import create_app
from vpitracker.vocab import Role

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
# The audit log's checkpoint signing key in tests, and the verifier key that checks it.
TEST_LOG_ORIGIN = "test.vpitracker.example/audit"
TEST_LOG_KEY = (
    "PRIVATE+KEY+test.vpitracker.example/audit+db8b39b4+"
    "AYq7k2v51tO4v3QPX+5/SLpxJWL1H1Myt37x9jAgcVrs"
)
TEST_LOG_VKEY = (
    "test.vpitracker.example/audit+db8b39b4+AV8g++7ym1R+D+y0LhLRSfikSjPrLxtjCp6ZvNfB6QZ7"
)


def test_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.test,
        "secret_key": TEST_SECRET,
        "database_url": database_url(),
        "log_origin": TEST_LOG_ORIGIN,
        "log_signing_key": TEST_LOG_KEY,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test

# Passwords in this process are still hashed and verified with argon2id, but with light
# parameters (1 pass over 1 MiB instead of 3 over 64 MiB): the deployed cost is ~0.1 s of
# CPU per hash or login, which the suite pays hundreds of times and which no test needs.
# Servers that tests/live.py starts hash with the deployed parameters.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
passwords._DUMMY_HASH = passwords._hasher.hash("not-a-real-password-for-timing")


_SQLITE_DIR: Path | None = None


def database_url() -> str:
    url = os.environ.get("VPI_TEST_DATABASE_URL")
    if url:
        return url
    assert _SQLITE_DIR is not None
    return f"sqlite:///{_SQLITE_DIR / 'test.db'}"


def pytest_configure() -> None:
    global _SQLITE_DIR
    import tempfile

    _SQLITE_DIR = Path(tempfile.mkdtemp(prefix="vpi-test-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    on_postgres = database_url().startswith("postgres")
    for item in items:
        if item.get_closest_marker("postgres_only") and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only (set VPI_TEST_DATABASE_URL)"))
        if item.get_closest_marker("sqlite_only") and on_postgres:
            item.add_marker(pytest.mark.skip(reason="SQLite only"))


def pytest_report_header() -> str:
    return f"vpitracker test database: {database_url().split('@')[-1]}"


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the same kind as the test database, dropped afterwards."""
    with scratch_database(tmp_path) as url:
        yield url


@contextmanager
def scratch_database(tmp_path: Path, *, migrated: bool = False) -> Iterator[str]:
    """``scratch_database_url`` for fixtures of any scope; ``migrated`` starts it at head,
    a copy of a database migrated once per session (a file copy on SQLite, ``CREATE
    DATABASE ... TEMPLATE`` on PostgreSQL) instead of running the migrations again."""
    url = normalize_url(database_url())
    if not url.startswith("postgresql"):
        path = tmp_path / "scratch.db"
        if migrated:
            shutil.copyfile(_migrated_template(), path)
        yield f"sqlite:///{path}"
        return
    name = f"vpi_scratch_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_TEMPLATE: str | None = None  # the migrated database scratch copies start from


def _migrated_template() -> str:
    """The SQLite file or PostgreSQL database name of this session's migrated template."""
    global _TEMPLATE
    if _TEMPLATE is None:
        url = normalize_url(database_url())
        if url.startswith("postgresql"):
            name = f"vpi_template_{uuid.uuid4().hex[:12]}"
            admin = create_engine(
                make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            target = make_url(url).set(database=name).render_as_string(hide_password=False)
        else:
            assert _SQLITE_DIR is not None
            name = str(_SQLITE_DIR / "template.db")
            target = f"sqlite:///{name}"
        engine = make_engine(target)
        migrate.upgrade(engine)
        engine.dispose()  # a template must have no connection when it is copied
        _TEMPLATE = name
    return _TEMPLATE


def pytest_unconfigure() -> None:
    if _TEMPLATE is None:
        return
    url = normalize_url(database_url())
    if url.startswith("postgresql"):
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    if os.environ.get("VPI_REQUIRE_POSTGRES") == "1" and not database_url().startswith("postgres"):
        pytest.fail("VPI_REQUIRE_POSTGRES=1 but VPI_TEST_DATABASE_URL is not PostgreSQL")
    eng = make_engine(database_url())
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    if outer.is_active:
        outer.rollback()
    conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """What a test reads and writes directly; sees everything the app wrote."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


@pytest.fixture
def settings() -> Settings:
    return test_settings()


# Building an app (and FastAPI's first-request route setup) costs 0.1-0.3 s: one app
# per distinct settings, shared by the tests; each test points it at its own connection.
_APPS: dict[str, FastAPI] = {}


@pytest.fixture
def client(connection: Connection, engine: Engine, settings: Settings) -> Iterator[TestClient]:
    key = settings.model_dump_json()
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(settings, engine=engine)

    def _session(_request: Request) -> Iterator[Session]:
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as s:
            yield from transaction(s)

    app.dependency_overrides[get_session] = _session
    # Streamed reports read on the test's connection too (it sees the test's rows).
    app.dependency_overrides[get_stream_opener] = lambda: lambda: nullcontext(connection)
    app.dependency_overrides[get_read_first_session] = _session
    try:
        with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
            yield c
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def make_context(client: TestClient, session: Session, settings: Settings) -> ContextMaker:
    """A secretariat's view of the resource under ``/v1/<name>`` (tests/resources.py)."""
    return lambda name: Context(client, session, settings, resource(name))


@pytest.fixture
def posting(scratch_database_url: str) -> Iterator[tuple[Engine, Actor, int]]:
    """A migrated scratch database with a commitment and a secretariat to post with
    (the secretariat's password is ``factories.PASSWORD``)."""
    engine = make_engine(scratch_database_url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        user = make_user(session)
        ministry = make_ministry(session)
        commitment = make_commitment(session, lead=ministry)
        record_created(session, ministry, commitment)
        actor = Actor(kind="user", id=pk(user), role=Role.secretariat, email=user.email)
        commitment_id = pk(commitment)
    try:
        yield engine, actor, commitment_id
    finally:
        engine.dispose()
