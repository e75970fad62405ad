"""Uploads built to cost the server: refused whole (422, nothing written), before openpyxl.

Each workbook is a real one (openpyxl writes it) whose zip parts are then rewritten:
a sheet padded to inflate past the cap, too many parts, oversized shared strings,
blank rows past the row limit, rows made wide by one far empty cell.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem, row_counts
from tests.credentials import auth
from tests.factories import make_user
from tests.transfer.helpers import TABLES
from vpitracker.config import Settings
from vpitracker.transfer import formats
from vpitracker.vocab import Role

URL = "/v1/imports/ministries"
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MIB = 1024 * 1024
HEADER = ["code", "name", "kind", "parent_code", "contact_email"]


@pytest.fixture
def secretariat(session: Session, settings: Settings) -> dict[str, str]:
    return auth(settings, make_user(session, Role.secretariat))


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook(*rows: list[str]) -> bytes:
    """A minimal one-sheet workbook, every text in xl/sharedStrings.xml (as Excel saves)."""
    strings: list[str] = []

    def index(text: str) -> int:
        if text not in strings:
            strings.append(text)
        return strings.index(text)

    sheet_rows = []
    for number, row in enumerate([HEADER, *rows], start=1):
        cells = "".join(
            f'<c r="{chr(65 + i)}{number}" t="s"><v>{index(text)}</v></c>'
            for i, text in enumerate(row)
            if text
        )
        sheet_rows.append(f'<row r="{number}">{cells}</row>')
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/{SHEET}" ContentType="{_TYPE}.worksheet+xml"/>'
            f'<Override PartName="/{STRINGS}" ContentType="{_TYPE}.sharedStrings+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="ministries" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>"
        ),
        SHEET: (
            f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(sheet_rows)}</sheetData></worksheet>'
        ),
        STRINGS: (
            f'<sst xmlns="{_MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'
            + "".join(f"<si><t>{text}</t></si>" for text in strings)
            + "</sst>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


GOOD = workbook(["MOI", "Interior", "ministry"])


def rewrite(
    data: bytes,
    change: Callable[[str, bytes], Iterable[bytes] | None] = lambda _n, _b: None,
    extra: Iterable[tuple[str, bytes]] = (),
) -> bytes:
    """``data`` with each part's bytes replaced by ``change(name, bytes)`` (None: kept),
    written chunk by chunk so a part can inflate far past what the test holds."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            original = source.read(info.filename)
            chunks = change(info.filename, original)
            with target.open(info.filename, "w", force_zip64=True) as part:
                for chunk in [original] if chunks is None else chunks:
                    part.write(chunk)
        for name, content in extra:
            target.writestr(name, content)
    return out.getvalue()


def padded(xml: bytes, closing: bytes, size: int) -> Iterable[bytes]:
    """``xml`` with ``size`` bytes of whitespace before ``closing`` (still valid XML)."""
    head, _, tail = xml.rpartition(closing)
    yield head
    block = b" " * MIB
    for _ in range(size // MIB):
        yield block
    yield b" " * (size % MIB)
    yield closing + tail


def bomb() -> bytes:
    """GOOD with its sheet padded to inflate 1 MiB past the cap (about 100 KB zipped)."""
    size = formats.MAX_XLSX_INFLATED + MIB
    return rewrite(GOOD, lambda n, b: padded(b, b"</worksheet>", size) if n == SHEET else None)


def with_rows(rows: Iterable[bytes]) -> bytes:
    """GOOD with ``rows`` (sheet XML) after its own."""

    def change(name: str, xml: bytes) -> Iterable[bytes] | None:
        if name != SHEET:
            return None
        head, _, tail = xml.partition(b"</sheetData>")
        return [head, *rows, b"</sheetData>" + tail]

    return rewrite(GOOD, change)


def post(client: TestClient, headers: dict[str, str], data: bytes) -> Any:
    return client.post(
        URL, files={"file": ("m.xlsx", data, "application/octet-stream")}, headers=headers
    )


def refused(
    client: TestClient, session: Session, headers: dict[str, str], data: bytes
) -> dict[str, Any]:
    """The 422 for ``data``, after checking nothing was written."""
    assert len(data) < 10 * MIB  # under the upload cap: refused for what it inflates to
    counts = row_counts(session, *TABLES)
    body = problem(post(client, headers, data), 422)
    assert row_counts(session, *TABLES) == counts
    assert len(body["errors"]) == 1
    assert body["errors"][0]["msg"] == body["detail"]
    return body


class TestCraftedWorkbooks:
    def test_the_untouched_workbook_is_imported(
        self, client: TestClient, secretariat: dict[str, str]
    ) -> None:
        # The control: what the other tests change is all that makes them refused.
        r = post(client, secretariat, rewrite(GOOD))
        assert r.status_code == 200, r.text
        assert r.json()["created"] == ["MOI"]

    def test_an_inflation_bomb_is_refused_before_it_is_read(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        body = refused(client, session, secretariat, bomb())
        assert "inflates to 102 MiB once uncompressed; at most 100 MiB" in body["detail"]

    def test_too_many_parts_are_refused(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        extra = [(f"customXml/item{n}.xml", b"<a/>") for n in range(formats.MAX_XLSX_PARTS)]
        body = refused(client, session, secretariat, rewrite(GOOD, extra=extra))
        assert "parts; at most 1000" in body["detail"]

    def test_oversized_shared_strings_are_refused(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        size = formats.MAX_XLSX_WHOLE_PART  # and the strings themselves
        data = rewrite(GOOD, lambda n, b: padded(b, b"</sst>", size) if n == STRINGS else None)
        body = refused(client, session, secretariat, data)
        assert f"the part {STRINGS} of the workbook inflates to 33 MiB" in body["detail"]

    def test_blank_rows_count_against_the_row_limit(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        # One good row, then empty rows up to one past the limit: 50,001 rows after
        # the header, only one of them holding anything.
        last = formats.MAX_ROWS + 2
        blank = (b'<row r="%d"/>' % n for n in range(3, last + 1))
        body = refused(client, session, secretariat, with_rows(blank))
        assert "at most 50000 rows after the header, blank rows included" in body["detail"]

    def test_blank_csv_lines_count_too(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        data = (",".join(HEADER) + "\r\nMOI,Interior,ministry,,\r\n").encode()
        data += b",,,,\r\n" * formats.MAX_ROWS
        counts = row_counts(session, *TABLES)
        r = client.post(URL, files={"file": ("m.csv", data, "text/csv")}, headers=secretariat)
        assert "blank rows included" in problem(r, 422)["detail"]
        assert row_counts(session, *TABLES) == counts

    def test_rows_made_wide_by_one_far_empty_cell_count_every_cell(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        # An empty cell in column XFD makes a row 16,384 cells wide: 62 of them pass 1M.
        wide = (b'<row r="%d"><c r="XFD%d"/></row>' % (n, n) for n in range(3, 3 + 62))
        body = refused(client, session, secretariat, with_rows(wide))
        assert "at most 1000000 cells in one file" in body["detail"]

    def test_a_password_protected_workbook_is_named_as_such(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096
        body = refused(client, session, secretariat, ole)
        assert "password-protected" in body["detail"]

    def test_the_refusal_is_translated(
        self, client: TestClient, secretariat: dict[str, str]
    ) -> None:
        r = client.post(
            URL,
            files={"file": ("m.xlsx", bomb(), "application/octet-stream")},
            headers={**secretariat, "Accept-Language": "sw"},
        )
        body = problem(r, 422)
        assert r.headers["Content-Language"] == "sw"
        assert "MiB 102" in body["detail"] or "102 MiB" in body["detail"]
        assert "uncompressed" not in body["detail"], body["detail"]
        assert body["errors"][0]["msg"] == body["detail"]
