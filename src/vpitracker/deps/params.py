"""Parameters many routes share: ``If-Match``, a page, ``as_of``, the commitment filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query

from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from vpitracker.types import IsoDate
from vpitracker.vocab import DerivedVerdict, Instrument, ReportedStatus

IfMatch = Annotated[
    str | None,
    Header(
        description="Required: the ETag of the version you edited (428 without it, "
        "412 when the record changed since)"
    ),
]


def page_request_for(default_sort: str) -> Callable[..., Awaitable[PageRequest]]:
    """A page dependency whose ``sort`` defaults to ``default_sort``."""

    async def page_request(
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(
                max_length=2000,
                description="Opaque: pass back the previous page's next_cursor unchanged "
                "(with the same sort); never build one",
            ),
        ] = None,
        sort: Annotated[
            str, Query(max_length=64, description="A sortable field; prefix - for descending")
        ] = default_sort,
    ) -> PageRequest:
        return PageRequest(limit=limit, cursor=cursor, sort=sort)

    return page_request


PageDep = Annotated[PageRequest, Depends(page_request_for("id"))]
AsOf = Annotated[
    IsoDate | None,
    Query(description="Derived state as it stood at the end of this day (UTC)"),
]
IncludeArchived = Annotated[bool, Query(description="Include archived records")]
OptionalId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


async def commitment_filters(
    q: Annotated[str | None, Query(max_length=200, description="Code or title contains")] = None,
    ministry_id: Annotated[OptionalId, Query(description="Lead or supporting ministry")] = None,
    lead_ministry_id: OptionalId = None,
    recommendation_id: OptionalId = None,
    reported_status: ReportedStatus | None = None,
    verdict: DerivedVerdict | None = None,
    contested: bool | None = None,
    overdue: bool | None = None,
    stale: bool | None = None,
    due_before: IsoDate | None = None,
    due_after: IsoDate | None = None,
    cluster: Annotated[int | None, Query(ge=1, le=4)] = None,
    instrument: Instrument | None = None,
    include_archived: IncludeArchived = False,
) -> CommitmentFilters:
    """The commitment filters (README, HTTP API), shared by the list and the report."""
    return CommitmentFilters(
        q=q,
        ministry_id=ministry_id,
        lead_ministry_id=lead_ministry_id,
        recommendation_id=recommendation_id,
        reported_status=reported_status.value if reported_status else None,
        verdict=verdict.value if verdict else None,
        contested=contested,
        overdue=overdue,
        stale=stale,
        due_before=due_before,
        due_after=due_after,
        cluster=cluster,
        instrument=instrument.value if instrument else None,
        include_archived=include_archived,
    )


CommitmentFiltersDep = Annotated[CommitmentFilters, Depends(commitment_filters)]
