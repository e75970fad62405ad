"""Fresh extraction and the committed catalogs, for the catalog and glossary tests."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "vpitracker" / "locale"
SW_PO = LOCALE / "sw" / "LC_MESSAGES" / "messages.po"
SW_MO = LOCALE / "sw" / "LC_MESSAGES" / "messages.mo"


@lru_cache
def extracted(tmp_dir: str) -> Catalog:
    """What ``make i18n`` would extract from the code and templates right now."""
    pot = Path(tmp_dir) / "messages.pot"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(
            ["pybabel", "-q", "extract", "-F", "babel.cfg", "--no-location", "-o", str(pot), "."]
        )
    finally:
        os.chdir(cwd)
    with pot.open("rb") as f:
        return read_po(f)


def sw_catalog() -> Catalog:
    with SW_PO.open("rb") as f:
        return read_po(f, locale="sw")


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def key(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
