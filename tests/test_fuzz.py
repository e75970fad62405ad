"""Property-based fuzzing of every operation against the OpenAPI document (schemathesis).

Schemathesis generates valid and invalid requests for each operation from the app's own
``/openapi.json`` (its examples, coverage and fuzzing phases) and runs every default check
on each response: no 5xx, only declared status codes, content types and headers, bodies
that match the declared schemas, invalid data rejected and valid data accepted.

Each request is sent as one of five callers (the four roles and an API key; the
secretariat, which may do the most, twice as often), picked from what was generated, so
every caller gets a share of each operation's examples and a failure replays as the same
caller. The app works on the test database through this test's ``connection``, each
request inside a SAVEPOINT that is rolled back: examples do not see each other's writes
and nothing is left behind. A few real rows are seeded; generated ids in paths, queries
and bodies often name them, and edits often send their ETag, so requests succeed as well
as fail.

``VPI_FUZZ_EXAMPLES`` sets the generated examples per operation (default 100; the
coverage phase adds its own). ``.ci/run`` sets 25: the coverage phase's boundary and
invalid values for every operation still run in full, and the fuzzing phase, which was
two fifths of the whole suite's time at 100, takes a quarter of that. Generation is
derandomized, so every run sends the same requests.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pytest
import schemathesis
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from hypothesis import HealthCheck, settings
from requests.structures import CaseInsensitiveDict
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tests.conftest import test_settings
from tests.credentials import auth
from tests.factories import (
    make_assessment,
    make_commitment,
    make_ministry,
    make_recommendation,
    make_update,
    make_user,
)
from vpitracker.apikeys import service as apikeys_service
from vpitracker.db import transaction
from vpitracker.deps import get_read_first_session, get_session
from vpitracker.kernel.credentials import actor_for_user
from vpitracker.main import create_app
from vpitracker.models import utcnow
from vpitracker.versioning import etag
from vpitracker.vocab import Role

FUZZ_EXAMPLES = int(os.environ.get("VPI_FUZZ_EXAMPLES", "100"))
CALLERS = ("secretariat", "alliance_member", "government_officer", "viewer", "api_key")
# The secretariat may do the most, so it is picked twice as often.
PICKS = ("secretariat", *CALLERS)
SEEDED_ETAG = etag(1)  # every seeded row is at its first version
# A generated case; schemathesis leaves an operation's parameter and schema types open.
FuzzCase = schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]]
SETTINGS = test_settings()


@dataclass
class Bound:
    """What the module's app works on during the current test (set by the ``fuzz`` fixture)."""

    connection: Connection | None = None
    # kind of row -> the ids (keys) of the seeded ones
    ids: dict[str, list[Any]] = field(default_factory=dict)


BOUND = Bound()
APP = create_app(SETTINGS)


def _session(_request: Request) -> Iterator[Session]:
    assert BOUND.connection is not None, "the fuzz fixture binds the app to the test connection"
    with Session(
        bind=BOUND.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield from transaction(s)


APP.dependency_overrides[get_session] = _session
APP.dependency_overrides[get_read_first_session] = _session


# --- Which refusals of schema-valid requests are the app's rules, not schema mismatches ---

# Marks the 422s of FastAPI's request validation that contradict the schema. Installed
# before the first request, which builds the middleware stack and copies the handlers.
SCHEMA_REJECTION = "x-fuzz-schema-rejection"
# FastAPI's handler for RequestValidationError is an async HTTP handler; Starlette types
# the table with the WebSocket handlers too.
_validation_handler = cast(
    Callable[[Request, Exception], Awaitable[Response]],
    APP.exception_handlers[RequestValidationError],
)


def _beyond_schema(error: dict[str, Any]) -> bool:
    # A body's model validator: a rule across fields (completed means 100 %, due after
    # committed), which JSON Schema cannot state.
    if tuple(error.get("loc", ())) == ("body",) and error.get("type") == "value_error":
        return True
    # email-validator refuses reserved domains (.test, .invalid, .localhost, ...) and
    # domains without a dot (user@localhost), which the "email" format of JSON Schema
    # allows: no such address can receive mail.
    msg = str(error.get("msg", ""))
    return "special-use or reserved name" in msg or "It should have a period" in msg


async def _marked_validation(request: Request, exc: Exception) -> Response:
    response = await _validation_handler(request, exc)
    assert isinstance(exc, RequestValidationError)
    if not all(_beyond_schema(e) for e in exc.errors()):
        response.headers[SCHEMA_REJECTION] = "1"
    return response


APP.exception_handlers[RequestValidationError] = _marked_validation

# Answers to schema-valid requests that break a rule the schema does not state: a reference
# to a row that does not exist or is archived, a rule across fields, a cursor this server
# did not issue, an If-Match that is stale (412) or missing (428), a file whose rows are
# wrong. The built-in positive_data_acceptance counts them as failures.
BEYOND_SCHEMA = frozenset({412, 422, 428})


@schemathesis.check
def valid_data_accepted(ctx: Any, response: Any, case: FuzzCase) -> bool | None:
    """positive_data_acceptance, except for refusals by the app's rules beyond the schema.

    A 422 from request validation (marked above) still fails: then the OpenAPI document
    promises more than the validator takes, the defect that check exists to find.
    """
    if response.status_code in BEYOND_SCHEMA and SCHEMA_REJECTION not in response.headers:
        return None
    return positive_data_acceptance(ctx, response, case)


HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "TRACE", "QUERY"})


@schemathesis.check
def allow_names_the_methods(_ctx: Any, response: Any, case: FuzzCase) -> bool | None:
    """A 405 lists in Allow the methods the path documents (RFC 9110), HEAD aside.

    The built-in allow_header_conformance looks at OPTIONS only and lets an empty Allow pass.
    """
    if response.status_code != 405:
        return None
    allow = ",".join(response.headers.get("allow", []))
    advertised = {m.strip().upper() for m in allow.split(",")} & HTTP_METHODS
    path_item = case.operation.schema.raw_schema["paths"][case.operation.path]
    documented = {m.upper() for m in path_item} & HTTP_METHODS
    assert advertised == documented, f"405 with Allow: {allow!r}; the path has {documented}"
    return None


# --- The schema, the generation settings and the test ---

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261129,
        # A request is one in-process call; on a loaded machine one can take more than
        # schemathesis's default 10 s, which is no fault of the app.
        "request-timeout": 120,
        # Credentials are the callers' (sent by the test), not generated.
        "generation": {"with-security-parameters": False},
        # A PATCH without If-Match is 428 Precondition Required (RFC 6585), the answer
        # made for a missing precondition header.
        "checks": {
            "missing_required_header": {
                "expected-statuses": [400, 401, 403, 406, 415, 422, 428],
            }
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


# Parameters and body fields that name rows -> the kind of seeded row they may name.
REFERENCES = {
    "ministry_id": "ministry",
    "parent_id": "ministry",
    "lead_ministry_id": "ministry",
    "supporting_ministry_ids": "ministry",
    "ministry_ids": "ministry",
    "recommendation_id": "recommendation",
    "recommendation_ids": "recommendation",
    "commitment_id": "commitment",
    "update_id": "status_update",
    "status_update_id": "status_update",
    "assessment_id": "assessment",
    "in_reply_to_assessment_id": "assessment",
    "user_id": "user",
    "reported_by": "user",
    "key_id": "api_key",
    "key": "provision",
}


def _seeded(kind: str, value: Any) -> Any:
    """Two in three valid generated references become one to a seeded row of that kind."""
    rows = BOUND.ids.get(kind)
    if not rows:
        return value
    by_key = isinstance(rows[0], str)  # provisions are named by key, the rest by id
    if not by_key and isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        pick = value
    elif by_key and isinstance(value, str) and 1 <= len(value) <= 32:
        pick = zlib.crc32(value.encode())
    else:
        return value  # not a valid reference: perhaps the part a negative case negates
    return rows[pick % len(rows)] if pick % 3 else value


def _point_at_seeded(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    out = dict(values)
    for name, value in values.items():
        kind = REFERENCES.get(name)
        if kind is None:
            continue
        if isinstance(value, list):
            out[name] = [_seeded(kind, v) for v in value]
        else:
            out[name] = _seeded(kind, value)
    return out


def point_at_seeded(case: FuzzCase, digest: int) -> None:
    """Make generated references often name seeded rows, and edits often send If-Match.

    Only valid values are replaced, by valid ones, so a case stays positive or negative.
    """
    case.path_parameters = _point_at_seeded(case.path_parameters)
    case.query = _point_at_seeded(case.query)
    case.body = _point_at_seeded(case.body)
    # If-Match is required on every PATCH: replace a generated value (often) by the
    # seeded rows' ETag, but never add one to a case generated without it, which
    # checks that a missing header is refused.
    headers: Mapping[str, Any] = case.headers or {}
    name = next((k for k in headers if k.lower() == "if-match"), None)
    if case.method == "PATCH" and name and isinstance(headers[name], str) and digest % 3:
        case.headers = CaseInsensitiveDict({**headers, name: SEEDED_ETAG})


@dataclass
class Fuzz:
    connection: Connection
    headers: dict[str, dict[str, str]]


@pytest.fixture
def fuzz(connection: Connection, session: Session, engine: Engine) -> Iterator[Fuzz]:
    """Seed a small oversight history and bind the app to this test's connection."""
    APP.state.engine = APP.state.read_engine = engine
    ministry = make_ministry(session)
    other = make_ministry(session)
    secretariat = make_user(session, Role.secretariat)
    member = make_user(session, Role.alliance_member)
    officer = make_user(session, Role.government_officer, ministries=[ministry])
    viewer = make_user(session, Role.viewer)
    recommendation = make_recommendation(session, provision_keys=["UNTOC-5"])
    commitment = make_commitment(
        session, lead=ministry, supporting=[other], recommendations=[recommendation]
    )
    now = utcnow()
    update = make_update(session, commitment, by=officer, at=now - timedelta(days=2))
    assessment = make_assessment(session, commitment, by=member, at=now - timedelta(days=1))
    api_key, secret = apikeys_service.create(
        session, actor_for_user(session, secretariat), "fuzz key"
    )
    session.commit()
    BOUND.connection = connection
    BOUND.ids = {
        "ministry": [ministry.id, other.id],
        "recommendation": [recommendation.id],
        "commitment": [commitment.id],
        "status_update": [update.id],
        "assessment": [assessment.id],
        "user": [secretariat.id, member.id, officer.id, viewer.id],
        "api_key": [api_key.id],
        "provision": ["UNTOC-5", "TIP-6"],
    }
    try:
        yield Fuzz(
            connection=connection,
            headers={
                "secretariat": auth(SETTINGS, secretariat),
                "alliance_member": auth(SETTINGS, member),
                "government_officer": auth(SETTINGS, officer),
                "viewer": auth(SETTINGS, viewer),
                "api_key": {"X-API-Key": secret},
            },
        )
    finally:
        BOUND.connection = None
        BOUND.ids = {}


def digest(case: FuzzCase) -> int:
    """A number drawn from what was generated: choices made with it replay the same."""
    content = json.dumps(
        [case.method, case.path_parameters, case.query, case.headers, case.body],
        sort_keys=True,
        default=repr,
    )
    return zlib.crc32(content.encode())


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
def test_operation_keeps_the_contract(case: FuzzCase, fuzz: Fuzz) -> None:
    drawn = digest(case)
    caller = PICKS[drawn % len(PICKS)]
    point_at_seeded(case, drawn // len(PICKS))
    savepoint = fuzz.connection.begin_nested()
    try:
        case.call_and_validate(
            headers=fuzz.headers[caller], excluded_checks=[positive_data_acceptance]
        )
    finally:
        if savepoint.is_active:
            savepoint.rollback()
