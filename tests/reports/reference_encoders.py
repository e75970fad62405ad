"""The report encoders as they were before the column-at-a-time ones: the oracle of
tests/reports/test_encoders.py (the new output must be byte for byte this one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from vpitracker.csvout import csv_lines
from vpitracker.reports import streaming

# The general encoder itself is unchanged: it writes the values no fast path knows.
_encode = streaming._encode

Fixes = Sequence[Callable[[Any], Any] | None]


def _fixed(
    batches: Iterable[Sequence[Sequence[Any]]], fixes: Fixes
) -> Iterator[list[tuple[Any, ...]]]:
    for batch in batches:
        yield [
            tuple(v if fix is None else fix(v) for v, fix in zip(row, fixes, strict=True))
            for row in batch
        ]


def old_json_chunks(
    columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]], fixes: Fixes
) -> Iterator[bytes]:
    yield b"["
    separator = ""
    for batch in _fixed(batches, fixes):
        if batch:
            text = _encode([dict(zip(columns, row, strict=True)) for row in batch])
            yield (separator + text[1:-1]).encode()
            separator = ","
    yield b"]"


def old_csv_chunks(
    columns: Sequence[str], batches: Iterable[Sequence[Sequence[Any]]], fixes: Fixes
) -> Iterator[bytes]:
    rows = (row for batch in _fixed(batches, fixes) for row in batch)
    for text in csv_lines(columns, rows):
        yield text.encode()
