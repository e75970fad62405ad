"""The bench's SQL capture (bench/capture.py): what it records must replay as sent."""

from __future__ import annotations

from bench.capture import Recorder, replay
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, create_engine, insert


def test_a_blob_parameter_is_recorded_and_replays_on_sqlite() -> None:
    """SQLite's driver gets a BLOB as a memoryview (every audited POST binds one)."""
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("n", Integer), Column("b", LargeBinary))
    table.create(engine)
    recorder = Recorder(engine)
    with recorder.recording() as statements, engine.begin() as conn:
        conn.execute(insert(table).values(n=1, b=b"\x00\xffhash"))
    assert [s.params for s in statements] == [(1, b"\x00\xffhash")]
    raw = engine.raw_connection()
    try:
        replay(raw, statements)
        rows = raw.cursor().execute("SELECT n, b FROM t ORDER BY rowid").fetchall()
    finally:
        raw.close()
    assert rows == [(1, b"\x00\xffhash"), (1, b"\x00\xffhash")]
