"""Provision request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vpitracker.types import NUMBER_ONLY, RequestModel, Title
from vpitracker.vocab import Instrument

ProvisionKey = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=32, pattern=r"^[A-Z]+-[0-9A-Za-z()._-]+$"
    ),
]
Article = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=16, pattern=r"^[0-9A-Za-z()._ -]+$"
    ),
]
Cluster = Annotated[int, Field(ge=1, le=4), NUMBER_ONLY]


class ProvisionCreate(RequestModel):
    key: ProvisionKey
    instrument: Instrument
    article: Article
    title: Title
    cluster: Cluster | None = None


class ProvisionUpdate(RequestModel):
    instrument: Instrument | None = None
    article: Article | None = None
    title: Title | None = None
    cluster: Cluster | None = None


class ProvisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    instrument: Instrument
    article: str
    title: str
    cluster: int | None
    cluster_name: str | None
    created_at: datetime
    updated_at: datetime
