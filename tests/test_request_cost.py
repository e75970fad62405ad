"""What a read costs beyond its SQL: thread hops and round trips (bench floor).

FastAPI runs every plain ``def`` dependency, the route and (for a sync route) the
response validation in the thread pool, one hop each; the request dependencies that
do no I/O are ``async def`` so that a read takes only the hops its I/O needs. A
pooled connection in steady use is not pinged before each request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import fastapi.dependencies.utils as fastapi_dependencies
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from starlette.datastructures import QueryParams

from tests.conftest import database_url, scratch_database, test_settings
from tests.credentials import auth
from tests.factories import make_ministry, make_user
from vpitracker import db, migrate
from vpitracker.commitments import repository as commitments_repository
from vpitracker.db import make_engine
from vpitracker.deps import callers, commitment_filters
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.main import create_app
from vpitracker.ministries import repository as ministries_repository
from vpitracker.models.base import UTCDateTime
from vpitracker.provisions import repository as provisions_repository
from vpitracker.reporting import repository as reporting_repository


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any]]:
    """The app as served (no test overrides of its session) on a database of its own."""
    with scratch_database(Path(tmp_path_factory.mktemp("cost"))) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine, expire_on_commit=False) as session:
            user = make_user(session)
            make_ministry(session)
        settings = test_settings(database_url=url)
        try:
            with TestClient(create_app(settings, engine)) as client:
                yield client, auth(settings, user)
        finally:
            engine.dispose()


def _hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function the request runs in the thread pool, as it runs."""
    seen: list[str] = []
    original = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        target = getattr(func, "func", func)  # functools.partial
        seen.append(getattr(target, "__qualname__", repr(target)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


@pytest.mark.parametrize(
    ("url", "most"),
    [
        # A list page (resources.page_read): the caller checked, the page read,
        # validated and committed, all in one hop.
        ("/v1/ministries?limit=50", 1),
        ("/v1/commitments?limit=50", 1),
        # Progress figures (resources.checked_read): the caller checked, the figures
        # computed and the read ended in one hop, as a page.
        ("/v1/progress/clusters", 1),
        ("/v1/progress/summary", 1),
    ],
)
def test_a_dashboard_read_takes_only_the_thread_hops_its_io_needs(
    app_client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch, url: str, most: int
) -> None:
    client, headers = app_client
    client.get(url, headers=headers).raise_for_status()  # warm
    hops = _hops(monkeypatch)
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert len(hops) <= most, hops


@pytest.mark.parametrize(
    "url",
    ["/v1/ministries?limit=50", "/v1/commitments?limit=50", "/v1/progress/clusters", "/v1/me"],
)
def test_the_security_schemes_are_not_run_per_request(
    app_client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """They describe the operations in the document; the gates read the credentials."""
    client, headers = app_client
    ran: list[str] = []

    async def record(self: object, _request: object) -> None:
        ran.append(type(self).__name__)

    for scheme in (callers._Bearer, callers._KeyHeader, callers._KeyQuery, callers._Basic):
        monkeypatch.setattr(scheme, "__call__", record)
    assert client.get(url, headers=headers).status_code == 200
    assert ran == []


def _query_readings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query parameters FastAPI reads one by one, as it reads them."""
    read: list[str] = []
    original = fastapi_dependencies.request_params_to_args

    def reading(fields: Any, received: Any) -> Any:
        if isinstance(received, QueryParams):
            read.extend(field.name for field in fields)
        return original(fields, received)

    monkeypatch.setattr(fastapi_dependencies, "request_params_to_args", reading)
    return read


PLAIN_QUERIES = [
    "/v1/ministries?limit=5&kind=ministry&sort=-name",
    "/v1/commitments?limit=5&overdue=false&sort=-due_date&as_of=2026-01-31&cluster=2",
    "/v1/progress/clusters?as_of=2026-01-31",
]


@pytest.mark.parametrize("url", PLAIN_QUERIES)
def test_a_plain_query_is_read_in_one_pass(
    app_client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """Its parameters validated once each (routing.ApiRoute), not field by field by FastAPI."""
    client, headers = app_client
    read = _query_readings(monkeypatch)
    assert client.get(url, headers=headers).status_code == 200
    assert read == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v1/ministries?limit=5&limit=7", 200),  # given twice
        ("/v1/ministries?limit=0", 422),
        ("/v1/commitments?cluster=9&overdue=true", 422),
    ],
)
def test_any_other_query_is_read_by_fastapi_itself(
    app_client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch, url: str, status: int
) -> None:
    """So its problems and their order are FastAPI's own."""
    client, headers = app_client
    read = _query_readings(monkeypatch)
    assert client.get(url, headers=headers).status_code == status
    assert "limit" in read


def test_an_override_of_a_dependency_that_reads_the_query_applies(
    app_client: tuple[TestClient, Any],
) -> None:
    client, headers = app_client
    overridden: list[str] = []

    async def filters() -> CommitmentFilters:
        overridden.append("filters")
        return CommitmentFilters()

    client.app.dependency_overrides[commitment_filters] = filters  # type: ignore[attr-defined]
    try:
        assert client.get("/v1/commitments?limit=5", headers=headers).status_code == 200
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert overridden == ["filters"]


def _counting_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    original = engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(1)
        return original(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.mark.postgres_only
def test_a_connection_in_steady_use_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(database_url(), pool_size=1, max_overflow=0)
    try:
        pings = _counting_pings(engine, monkeypatch)
        first = _backend_pid(engine)
        assert [_backend_pid(engine) for _ in range(3)] == [first] * 3
        assert pings == []
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(database_url(), pool_size=1, max_overflow=0)
    admin = make_engine(database_url())
    try:
        pings = _counting_pings(engine, monkeypatch)
        dropped = _backend_pid(engine)
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has been idle long enough
        assert _backend_pid(engine) != dropped
        assert pings == [1]
    finally:
        engine.dispose()
        admin.dispose()


def test_a_commitment_page_statement_is_built_once_per_shape(
    app_client: tuple[TestClient, Any],
) -> None:
    """Another value of the same filters and sort runs the statement already built."""
    client, headers = app_client
    url = "/v1/commitments?limit=5&lead_ministry_id={}&sort=-due_date"
    client.get(url.format(1), headers=headers).raise_for_status()
    before = commitments_repository._page.cache_info()
    for ministry_id in (2, 3):
        client.get(url.format(ministry_id), headers=headers).raise_for_status()
    after = commitments_repository._page.cache_info()
    assert (after.hits, after.misses) == (before.hits + 2, before.misses)
    client.get(url.format(1) + "&overdue=true", headers=headers).raise_for_status()
    assert commitments_repository._page.cache_info().misses == before.misses + 1


@pytest.mark.parametrize(
    ("url", "values", "built"),
    [
        ("/v1/ministries?limit=5&kind={}&sort=-name", ("ministry", "agency", "county"),
         ministries_repository._page),
        ("/v1/provisions?limit=5&cluster={}", (1, 2, 3), provisions_repository._page),
        ("/v1/status-updates?limit=5&ministry_id={}", (1, 2, 3),
         reporting_repository._updates_page),
    ],
)  # fmt: skip
def test_other_list_statements_are_built_once_per_shape(
    app_client: tuple[TestClient, Any], url: str, values: tuple[object, ...], built: Any
) -> None:
    """As a commitment page's: another value of the same filter runs the statement built."""
    client, headers = app_client
    client.get(url.format(values[0]), headers=headers).raise_for_status()
    before = built.cache_info()
    for value in values[1:]:
        client.get(url.format(value), headers=headers).raise_for_status()
    after = built.cache_info()
    assert (after.hits, after.misses) == (before.hits + len(values) - 1, before.misses)


def test_timestamps_are_converted_per_value_only_where_the_driver_cannot(
    app_client: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL every connection reads in UTC, so psycopg's aware datetimes are used
    as they come; SQLite's naive text is made aware per value."""
    client, headers = app_client
    engine = client.app.state.engine  # type: ignore[attr-defined]
    engine.dialect._type_memos.clear()  # result processors are kept per dialect
    engine.clear_compiled_cache()
    calls: list[object] = []
    original = UTCDateTime.process_result_value

    def counted(self: UTCDateTime, value: Any, dialect: Any) -> Any:
        calls.append(value)
        return original(self, value, dialect)

    monkeypatch.setattr(UTCDateTime, "process_result_value", counted)
    r = client.get("/v1/ministries?limit=5", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["items"][0]["created_at"].endswith("Z")
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
        assert calls == []
    else:
        assert calls
