"""Constrained field types shared by request schemas."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
)

# What strip_whitespace removes (Unicode White_Space), spelled out so that the OpenAPI
# pattern states exactly what is taken: no NUL (PostgreSQL refuses it in text) and, where
# text is required, something besides white space.
_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
# No NUL and no white space at all (URLs); spelled out because JSON Schema's \s
# (ECMA-262) and Python's differ (U+0085).
NO_SPACE = rf"^[^\x00{_SPACE}]+$"


CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=CODE_PATTERN)
]
# Ministry codes are short (MOI, ODPP): the column holds 32 characters.
ShortCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=CODE_PATTERN)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=NOT_BLANK)
]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=NOT_BLANK)
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000, pattern=NOT_BLANK),
]
OptionalLongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=20_000, pattern=NO_NUL)
]


def _json_number(value: object) -> object:
    # Pydantic would take true as 1 and "7" as 7; JSON Schema's integer is a number (7 or 7.0).
    if isinstance(value, bool | str):
        raise ValueError("must be a number")
    return value


# Listed after the bounds: before them, pydantic writes ge/le into the JSON Schema as is.
NUMBER_ONLY = BeforeValidator(_json_number)
Id = Annotated[int, Field(ge=1, le=2**31 - 1), NUMBER_ONLY]

# Dates are taken only in the documented form and from 1900 to 2999: pydantic alone also
# reads a number as a Unix timestamp (`as_of=0` would mean 1970-01-01), and day arithmetic
# at the ends of the calendar (0001-01-01, 9999-12-31) overflows.
DATE_PATTERN = r"^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"
DATETIME_PATTERN = (
    r"^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)


def _written_as(pattern: str, kind: type[date], form: str) -> BeforeValidator:
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, kind) or (isinstance(value, str) and compiled.match(value)):
            return value
        raise ValueError(f"must be written {form}, in the years 1900 to 2999")

    return BeforeValidator(check)


IsoDate = Annotated[
    date,
    _written_as(DATE_PATTERN, date, "YYYY-MM-DD"),
    Field(json_schema_extra={"pattern": DATE_PATTERN}),
]
IsoDateTime = Annotated[
    datetime,
    _written_as(DATETIME_PATTERN, datetime, "YYYY-MM-DDTHH:MM[:SS][offset]"),
    Field(json_schema_extra={"pattern": DATETIME_PATTERN}),
]


class RequestModel(BaseModel):
    """Bodies reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class EvidenceLink(RequestModel):
    url: Annotated[AnyUrl, UrlConstraints(max_length=2048)]
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=300, pattern=NO_NUL)
    ] = ""
