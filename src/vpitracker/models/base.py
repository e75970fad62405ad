"""Shared column types and metadata conventions for every table."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Stable constraint names, so migrations read the same on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: MetaData = SQLModel.metadata


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model (for aliases and typed column access)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def utcnow() -> datetime:
    return datetime.now(UTC)


# Dialects of engines whose every connection runs with the session time zone UTC
# (``db.make_engine`` on PostgreSQL): psycopg then returns each ``timestamptz`` as an
# aware datetime in ``datetime.UTC`` already, so no value needs converting.
_UTC_SESSIONS: weakref.WeakSet[Dialect] = weakref.WeakSet()


def utc_sessions(dialect: Dialect) -> None:
    """Declare that every connection of ``dialect``'s engine reads timestamps in UTC."""
    _UTC_SESSIONS.add(dialect)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both databases (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        # SQLAlchemy 2.1 answers ``object`` for decorators; keyset cursors need the real type.
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        # No per-value call where the driver already gives what process_result_value would.
        if dialect in _UTC_SESSIONS:
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Versioned(Protocol):
    """What optimistic concurrency and audited edits read and bump on a record."""

    created_at: datetime
    updated_at: datetime
    version: int


class Archivable(Versioned, Protocol):
    archived_at: datetime | None


def _timestamp() -> Any:
    # sa_column_kwargs default None: the column has no Python-side default (the model
    # fills the value), exactly as the migrations and the former per-model columns say.
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"default": None},
    )


class VersionedRecord(SQLModel):
    """Mixin for edited records: creation and edit times and the version ETags name."""

    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    version: int = Field(default=1, nullable=False, sa_column_kwargs={"default": None})


class ArchivableRecord(VersionedRecord):
    """A versioned record that is archived rather than deleted."""

    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
