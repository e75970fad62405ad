"""The catalogs use the glossary's Kiswahili term wherever a message names its concept."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.i18n.catalogs import ROOT, key, sw_catalog

GLOSSARY = ROOT / "docs" / "glossary.md"
# Concepts of the domain model and derived state that the glossary must fix.
REQUIRED = {
    "commitment",
    "recommendation",
    "ministry",
    "lead ministry",
    "supporting ministry",
    "status update",
    "assessment",
    "verdict",
    "agrees",
    "insufficient evidence",
    "unassessed",
    "dispute",
    "contested",
    "right of reply",
    "overdue",
    "stale",
    "evidence",
    "provision",
    "cluster",
    "instrument",
    "audit trail",
    "checkpoint",
    "reported status",
    "government response",
    "priority",
    "implementation",
    "archived",
}


@dataclass(frozen=True)
class Term:
    english: str
    kiswahili: str
    forms: tuple[str, ...]
    definition: str
    maelezo: str

    def pattern(self) -> re.Pattern[str]:
        *first, last = self.english.split()
        plural = rf"{last[:-1]}(?:y|ies)" if last.endswith("y") else rf"{last}(?:s|es)?"
        words = r"\s+".join([*map(re.escape, first), plural])
        return re.compile(rf"(?<![\w-]){words}(?![\w-])", re.IGNORECASE)

    def rendered_in(self, text: str) -> bool:
        lowered = text.lower()
        return any(f.lower() in lowered for f in (self.kiswahili, *self.forms))


def terms() -> list[Term]:
    out = []
    for line in GLOSSARY.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("English", "") or set(cells[0]) <= {"-"}:
            continue
        forms = tuple(f.strip() for f in cells[2].split(",") if f.strip())
        out.append(Term(cells[0], cells[1], forms, cells[3], cells[4]))
    return out


def test_every_concept_has_one_term_and_a_definition_in_both_languages() -> None:
    found = terms()
    english = [t.english for t in found]
    assert len(english) == len(set(english)), "a concept listed twice"
    assert REQUIRED - set(english) == set()
    for term in found:
        assert term.kiswahili, term
        assert term.definition.rstrip(")").endswith("."), term
        assert term.maelezo.rstrip(")").endswith("."), term
        assert term.definition != term.maelezo, term


@pytest.mark.parametrize("term", terms(), ids=lambda t: t.english)
def test_messages_naming_the_concept_use_the_glossary_term(term: Term) -> None:
    wrong = []
    for message in sw_catalog():
        if not message.id:
            continue
        english = key(message.id)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if term.pattern().search(english) and not all(
            isinstance(s, str) and term.rendered_in(s) for s in strings
        ):
            wrong.append((english, strings))
    assert wrong == [], f"use {term.kiswahili!r} (or {', '.join(term.forms)})"


def test_the_check_sees_a_departure() -> None:
    term = next(t for t in terms() if t.english == "commitment")
    assert term.pattern().search("No commitments match.")
    assert not term.pattern().search("commitment_id must be set")
    assert not term.rendered_in("Hakuna majukumu yanayolingana.")
