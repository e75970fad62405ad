"""The request's settings and its database session (which engine, which transaction).

The dependencies that do no I/O are ``async def``: FastAPI runs those on the event
loop, and every plain ``def`` dependency in a worker thread (one thread hop each).
A session opens without I/O, so only its end (the commit or rollback) takes a hop.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlmodel import Session

from vpitracker import replicas
from vpitracker.config import Settings
from vpitracker.db import open_session, settle


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _engine_for(request: Request) -> Engine:
    """The read replica for dashboard reads (``replicas.serves``), else the primary."""
    state = request.app.state
    engine: Engine = state.read_engine if replicas.serves(request.scope) else state.engine
    return engine


async def _end(session: Session, error: BaseException | None) -> None:
    """``db.settle`` and close, in the thread pool when there is a transaction to end."""
    if not session.in_transaction():
        session.close()  # it never (or no longer) holds a connection: nothing to end
        return
    ended = False

    def end() -> None:
        nonlocal ended
        ended = True
        try:
            settle(session, error)
        finally:
            session.close()

    try:
        await run_in_threadpool(end)
    finally:
        if not ended:  # cancelled before the thread ran (a shutdown): end it here
            end()


@asynccontextmanager
async def _transaction(engine: Engine, *, write: bool) -> AsyncIterator[Session]:
    """``db.transaction`` for a request: opening a session does no I/O, ending it does."""
    session = open_session(engine, write=write)
    try:
        yield session
    except BaseException as exc:
        await _end(session, exc)
        raise
    await _end(session, None)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: commit on success, roll back on error."""
    write = request.method not in replicas.READ_METHODS
    async with _transaction(_engine_for(request), write=write) as session:
        yield session


# scope="function": the cleanup (the commit) runs when the route returns and before
# the response starts, so a 2xx is sent only for a committed write and a failed
# commit becomes the response itself. The default ("request") would commit after
# the response had been sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

P = ParamSpec("P")
R = TypeVar("R")


def commits_on_return(route: Callable[P, R]) -> Callable[P, R]:
    """A sync write route that commits in its own thread, the moment it returns.

    Otherwise the session's exit commits only after FastAPI has carried the result back
    to the event loop, validated it in another thread and hopped into a third: with many
    requests in flight, milliseconds in which an audited write still holds the chain
    lock, which every audited write waits for. Here the transaction ends (``db.settle``,
    as the exit would) before the result leaves the route, and the exit finds it ended.
    A failed commit is raised by the route, so it is still the response; a route that
    raises is rolled back by the exit as before.
    """

    @functools.wraps(route)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = route(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.in_transaction():
                settle(value, None)
        return result

    return run


async def get_stream_opener(
    request: Request,
) -> Callable[[], AbstractContextManager[Connection]]:
    """Opens the connection a streamed report reads from; it outlives the request's session."""
    opener: Callable[[], AbstractContextManager[Connection]] = _engine_for(request).connect
    return opener


StreamOpener = Annotated[
    Callable[[], AbstractContextManager[Connection]], Depends(get_stream_opener)
]


async def get_read_first_session(request: Request) -> AsyncIterator[Session]:
    """A transaction that starts as a read (plain ``BEGIN``) and writes only if it must.

    For sign-in, which writes only when it fails: on SQLite it then never queues
    behind a long writer such as an import.
    """
    async with _transaction(request.app.state.engine, write=False) as session:
        yield session


ReadFirstSessionDep = Annotated[Session, Depends(get_read_first_session, scope="function")]


# The caller's check when a route runs it later, in its own thread hop (a list page:
# deps.callers.PendingCaller): whatever fails before it ran, it runs first.
_PENDING_CHECK = "vpitracker.pending_caller_check"


def defer_check(request: Request, check: Callable[[], object]) -> None:
    """Run ``check`` later; until ``take_check``, any failure of the request runs it first."""
    request.scope[_PENDING_CHECK] = check


def take_check(request: Request) -> None:
    """The deferred check is running now: a later failure need not run it again."""
    request.scope.pop(_PENDING_CHECK, None)


@asynccontextmanager
async def _checked_first(request: Request) -> AsyncIterator[None]:
    """A deferred caller's check answers before any other problem (401 and 403 before 422).

    FastAPI validates a route's parameters after its dependencies and answers 422
    without running the route: the check then runs here, on the still open session,
    and its problem (if any) replaces the other. It is also an error to defer it and
    never run it.
    """
    try:
        yield
    except Exception:
        check = request.scope.pop(_PENDING_CHECK, None)
        if check is not None:
            await run_in_threadpool(check)
        raise
    if request.scope.pop(_PENDING_CHECK, None) is not None:
        raise RuntimeError("the caller's check was deferred and never ran")


async def get_auth_session(request: Request, session: SessionDep) -> AsyncIterator[Session]:
    """Where credentials are checked: the request's session, unless that reads a replica.

    Then the primary's, so a revoked key or ended session stops at once and an API
    key's ``last_used_at`` is written where writes go.
    """
    if _engine_for(request) is request.app.state.engine:
        async with _checked_first(request):
            yield session
        return
    async with (
        _transaction(request.app.state.engine, write=False) as primary,
        _checked_first(request),
    ):
        yield primary


AuthSessionDep = Annotated[Session, Depends(get_auth_session, scope="function")]
