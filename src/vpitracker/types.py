"""Constrained field types shared by request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AnyUrl, BaseModel, ConfigDict, Field, StringConstraints


def _no_control_chars(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def text(max_length: int, *, min_length: int = 1) -> object:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_control_chars),
    ]


Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_no_control_chars),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_control_chars),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    AfterValidator(_no_control_chars),
]
OptionalLongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=20_000),
    AfterValidator(_no_control_chars),
]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class RequestModel(BaseModel):
    """Bodies reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class EvidenceLink(RequestModel):
    url: AnyUrl
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=300),
        AfterValidator(_no_control_chars),
    ] = ""
