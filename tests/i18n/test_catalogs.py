"""The sw catalog covers every user-facing string and ships compiled as it is written."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message

from tests.i18n.catalogs import SW_MO, compiled, extracted, key, sw_catalog
from vpitracker import i18n


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Message]:
    catalog = extracted(str(tmp_path_factory.mktemp("pot")))
    return {key(m.id): m for m in catalog if m.id}


def test_extraction_finds_problem_texts_labels_and_headers(fresh: dict[str, Message]) -> None:
    # Raise sites, N_() marks and column labels are all seen by the extractor.
    assert "No commitment with id %(id)s" in fresh
    assert "This needs the role %(roles)s; you are %(role)s" in fresh
    assert "Insufficient evidence" in fresh
    assert "Days since the last status update" in fresh
    assert len(fresh) > 150


def test_every_user_facing_string_is_in_the_sw_catalog_and_translated(
    fresh: dict[str, Message],
) -> None:
    sw = {key(m.id): m for m in sw_catalog() if m.id}
    missing = sorted(set(fresh) - set(sw))
    assert missing == [], "not in sw messages.po: run make i18n and translate"
    untranslated = sorted(k for k, m in sw.items() if k in fresh and not _translated(m))
    assert untranslated == [], "untranslated or fuzzy in sw messages.po"


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return "fuzzy" not in message.flags and all(strings)


def test_translations_keep_their_placeholders() -> None:
    catalog = sw_catalog()
    problems = [(key(m.id), errors) for m, errors in catalog.check() if errors]
    assert problems == []
    for message in catalog:
        if message.id:
            assert sorted(_names(key(message.id))) == sorted(_names(str(message.string))), key(
                message.id
            )


def _names(text: str) -> list[str]:
    """Named placeholders: %(name)s for problems and templates, {name} for subjects."""
    return re.findall(r"%\(([a-z_]+)\)[sr]|\{([a-z_]+)\}", text)


def test_compiled_catalog_matches_its_po() -> None:
    assert SW_MO.read_bytes() == compiled(sw_catalog()), "stale messages.mo: run make i18n"


def test_package_loads_the_compiled_catalog() -> None:
    assert Path(i18n.LOCALE_DIR, "sw", "LC_MESSAGES", "messages.mo").is_file()
    sw = i18n.translations("sw-KE")
    assert isinstance(sw, gettext.GNUTranslations)
    assert i18n.gettext("sw", "Insufficient evidence") == "Ushahidi hautoshi"
    assert i18n.gettext("en", "Insufficient evidence") == "Insufficient evidence"
    assert i18n.gettext("fr", "Insufficient evidence") == "Insufficient evidence"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("sw", "sw"),
        ("sw-KE", "sw"),
        ("sw_KE", "sw"),
        ("en", "en"),
        ("fr, de;q=0.9", "en"),
        ("en;q=0.5, sw;q=0.8", "sw"),
        ("sw;q=0.5, en;q=0.8", "en"),
        ("sw;q=0, en;q=0.1", "en"),
        ("fr, sw-KE;q=0.3", "sw"),
        ("en-GB, sw", "en"),
        ("sw;q=oops", "en"),
    ],
)
def test_negotiation_honours_quality_values(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected
