"""The labels of every enumeration, in one language."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Language = Literal["en", "sw"]


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | int
    label: str


class Vocabulary(BaseModel):
    """Each list is in display order; ``value`` is what the API and CSV carry."""

    model_config = ConfigDict(extra="forbid")

    lang: Language
    reported_status: list[Term]
    verdict: list[Term]
    government_response: list[Term]
    priority: list[Term]
    implementation: list[Term]
    ministry_kind: list[Term]
    instrument: list[Term]
    cluster: list[Term]
    role: list[Term]
