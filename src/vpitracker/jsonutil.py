"""Canonical JSON and plain-value conversion shared by audit and idempotency."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any


def iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (datetimes as ISO 8601 UTC with ``Z``)."""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value


def canonical(value: object) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 text."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def quoted(value: str | None) -> str:
    """A string (or null) as it stands in canonical JSON: the pieces of pre-serialized text."""
    return json.dumps(value, ensure_ascii=False)
