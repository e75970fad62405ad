"""The request's settings and its database session (which engine, which transaction)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlmodel import Session

from vpitracker import replicas
from vpitracker.config import Settings
from vpitracker.db import session_scope


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _engine_for(request: Request) -> Engine:
    """The read replica for dashboard reads (``replicas.serves``), else the primary."""
    state = request.app.state
    engine: Engine = state.read_engine if replicas.serves(request.scope) else state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: commit on success, roll back on error."""
    yield from session_scope(
        _engine_for(request), write=request.method not in replicas.READ_METHODS
    )


# scope="function": the cleanup (the commit) runs when the route returns and before
# the response starts, so a 2xx is sent only for a committed write and a failed
# commit becomes the response itself. The default ("request") would commit after
# the response had been sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_stream_opener(request: Request) -> Callable[[], AbstractContextManager[Connection]]:
    """Opens the connection a streamed report reads from; it outlives the request's session."""
    opener: Callable[[], AbstractContextManager[Connection]] = _engine_for(request).connect
    return opener


StreamOpener = Annotated[
    Callable[[], AbstractContextManager[Connection]], Depends(get_stream_opener)
]


def get_read_first_session(request: Request) -> Iterator[Session]:
    """A transaction that starts as a read (plain ``BEGIN``) and writes only if it must.

    For sign-in, which writes only when it fails: on SQLite it then never queues
    behind a long writer such as an import.
    """
    yield from session_scope(request.app.state.engine, write=False)


ReadFirstSessionDep = Annotated[Session, Depends(get_read_first_session, scope="function")]


def get_auth_session(request: Request, session: SessionDep) -> Iterator[Session]:
    """Where credentials are checked: the request's session, unless that reads a replica.

    Then the primary's, so a revoked key or ended session stops at once and an API
    key's ``last_used_at`` is written where writes go.
    """
    if _engine_for(request) is request.app.state.engine:
        yield session
        return
    yield from session_scope(request.app.state.engine, write=False)


AuthSessionDep = Annotated[Session, Depends(get_auth_session, scope="function")]
