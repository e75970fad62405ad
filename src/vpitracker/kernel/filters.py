"""The list filters of the domains, one floor below them.

A list route, a report and a web page build the same value, and the repository
turns it into SQL; none of them imports another domain to name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from vpitracker.vocab import MinistryKind


@dataclass(frozen=True)
class MinistryFilters:
    q: str | None = None
    kind: MinistryKind | None = None
    parent_id: int | None = None
    include_archived: bool = False


@dataclass(frozen=True)
class RecommendationFilters:
    q: str | None = None
    provision: str | None = None
    cluster: int | None = None
    instrument: str | None = None
    priority: str | None = None
    government_response: str | None = None
    implementation: str | None = None
    ministry_id: int | None = None
    include_archived: bool = False


@dataclass(frozen=True)
class CommitmentFilters:
    q: str | None = None
    ministry_id: int | None = None
    lead_ministry_id: int | None = None
    recommendation_id: int | None = None
    reported_status: str | None = None
    verdict: str | None = None
    contested: bool | None = None
    overdue: bool | None = None
    stale: bool | None = None
    due_before: date | None = None
    due_after: date | None = None
    cluster: int | None = None
    instrument: str | None = None
    include_archived: bool = False
