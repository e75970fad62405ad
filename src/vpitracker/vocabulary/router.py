"""HTTP route for the vocabulary labels dashboards show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from vpitracker.deps import ReportReader
from vpitracker.errors import responses
from vpitracker.i18n import negotiate
from vpitracker.routing import ApiRoute
from vpitracker.vocabulary import service
from vpitracker.vocabulary.schemas import Language, Vocabulary

router = APIRouter(prefix="/v1", tags=["vocabulary"], route_class=ApiRoute)


@router.get(
    "/vocabulary",
    operation_id="vocabulary-read",
    response_model=Vocabulary,
    responses=responses(401, 403, 422),
)
def read_vocabulary(
    request: Request,
    response: Response,
    _actor: ReportReader,
    lang: Annotated[
        Language | None, Query(description="Language of the labels (else Accept-Language)")
    ] = None,
) -> Vocabulary:
    """Labels of every enumeration (statuses, verdicts, responses, kinds, clusters, roles)."""
    chosen = lang or negotiate(request.headers.get("accept-language"))
    response.headers["Content-Language"] = chosen
    response.headers["Vary"] = "Accept-Language"
    return service.vocabulary(chosen)
