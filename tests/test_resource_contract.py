"""What every versioned resource does the same way, tested once for all of them.

Create answers 201 with ``Location`` and ``ETag``; an unknown id is 404; a taken unique
value is 409; PATCH needs ``If-Match`` (428 without, 412 when stale); archiving hides a
row from lists unless ``include_archived=true``; and a refused request leaves the
database as it was. Which role may call which route is the authorization matrix's
(tests/test_authorization_matrix.py); here refused callers are checked to write nothing
with valid bodies on real rows, and allowed readers to see them. What differs per
resource (links, derived state, field rules) stays in tests/<domain>/test_router.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, SQLModel

from tests.assertions import last_event, problem, row_counts
from tests.credentials import BAD_CREDENTIALS, NON_SECRETARIAT, auth, bad_auth, headers_as
from tests.factories import (
    make_commitment,
    make_ministry,
    make_provision,
    make_recommendation,
    make_user,
    make_webhook,
    unique,
)
from vpitracker import models
from vpitracker.config import Settings
from vpitracker.vocab import Role

Operation = Literal["list", "create", "get", "update", "archive", "delete"]


@dataclass(frozen=True)
class Resource:
    """One collection under /v1 and how to make its rows and bodies."""

    name: str
    # Rows a write to it may add (links too); row_counts adds the audit log.
    tables: tuple[type[SQLModel], ...]
    make: Callable[..., SQLModel]
    create_body: Callable[[Session], dict[str, Any]]
    # Two valid PATCH bodies: the first is accepted, the second then refused.
    changes: tuple[dict[str, Any], dict[str, Any]]
    # The entity type in the audit log (None: its writes are not audited).
    entity: str | None
    # A unique field, a stored value and the value sent that collides with it (users'
    # emails collide in any case), and whether PATCH may change that field.
    unique: tuple[str, str, str] | None = None
    unique_patchable: bool = True
    removal: Literal["archive", "delete"] | None = None
    ident: str = "id"
    # The path parameter naming a row, where that is a row number.
    id_param: str | None = None
    unknown: str = "424242"
    readers: Literal["everyone", "secretariat"] = "everyone"

    def url(self, row: SQLModel | None = None) -> str:
        return f"/v1/{self.name}" if row is None else f"/v1/{self.name}/{self.key(row)}"

    def key(self, row: SQLModel) -> str:
        return str(getattr(row, self.ident))

    def operations(self) -> list[Operation]:
        ops: list[Operation] = ["list", "create", "get", "update"]
        return [*ops, self.removal] if self.removal else ops

    def __str__(self) -> str:
        return self.name


def _commitment_body(session: Session) -> dict[str, Any]:
    return {
        "code": unique("C-NEW-"),
        "title": "Open two shelters for victims",
        "description": "The Ministry will open two shelters.",
        "lead_ministry_id": make_ministry(session).id,
        "supporting_ministry_ids": [make_ministry(session).id],
        "recommendation_ids": [make_recommendation(session).id],
        "due_date": "2031-01-01",
        "indicator": "Two shelters open and staffed",
    }


def _make_commitment(session: Session, **fields: Any) -> models.Commitment:
    return make_commitment(
        session,
        lead=make_ministry(session),
        supporting=[make_ministry(session)],
        recommendations=[make_recommendation(session)],
        **fields,
    )


RESOURCES = [
    Resource(
        name="ministries",
        id_param="ministry_id",
        tables=(models.Ministry,),
        make=make_ministry,
        create_body=lambda _: {"code": unique("NEW"), "name": "New", "kind": "agency"},
        changes=({"name": "Second"}, {"name": "Third"}),
        entity="ministry",
        unique=("code", "TAKEN", "TAKEN"),
        removal="archive",
    ),
    Resource(
        name="recommendations",
        id_param="recommendation_id",
        tables=(models.Recommendation, models.RecommendationProvision),
        make=lambda session, **fields: make_recommendation(
            session, provision_keys=["TIP-6"], **fields
        ),
        create_body=lambda _: {
            "code": unique("R-NEW-"),
            "title": "Protect victims of trafficking",
            "text": "Fund shelters and a victim assistance scheme.",
            "source": "VPI Kenya, TiP working group",
            "provision_keys": ["TIP-6"],
        },
        changes=({"title": "Second"}, {"provision_keys": ["UNTOC-5"]}),
        entity="recommendation",
        unique=("code", "R-TAKEN", "R-TAKEN"),
        removal="archive",
    ),
    Resource(
        name="commitments",
        id_param="commitment_id",
        tables=(models.Commitment, models.CommitmentRecommendation, models.CommitmentSupport),
        make=_make_commitment,
        create_body=_commitment_body,
        changes=({"title": "Second"}, {"title": "Third", "recommendation_ids": []}),
        entity="commitment",
        unique=("code", "C-TAKEN", "C-TAKEN"),
        removal="archive",
    ),
    Resource(
        name="provisions",
        tables=(models.Provision,),
        make=lambda session, **fields: make_provision(session, cluster=None, **fields),
        create_body=lambda _: {
            "key": unique("SOM-9"),
            "instrument": "smuggling_protocol",
            "article": "99",
            "title": "T",
        },
        changes=({"cluster": 2}, {"cluster": 3}),
        entity="provision",
        unique=("key", "UNTOC-98", "UNTOC-98"),
        unique_patchable=False,
        ident="key",
        unknown="NOPE-1",
    ),
    Resource(
        name="users",
        id_param="user_id",
        tables=(models.User, models.UserMinistry),
        make=lambda session, **fields: make_user(session, Role.alliance_member, **fields),
        create_body=lambda _: {
            "email": f"{unique('focal.point')}@interior.go.ke",
            "full_name": "Focal Point",
            "role": "alliance_member",
            "password": "a long enough password",
        },
        changes=({"full_name": "Second"}, {"full_name": "Third"}),
        entity="user",
        unique=("email", "taken@example.org", "Taken@Example.ORG"),
        readers="secretariat",
    ),
    Resource(
        name="webhooks",
        id_param="subscription_id",
        tables=(models.WebhookSubscription,),
        make=make_webhook,
        create_body=lambda _: {"url": "https://93.184.215.14/in", "events": ["ping"]},
        changes=({"description": "Second"}, {"events": ["commitment.created"]}),
        entity=None,  # subscriptions are not in the audit log
        removal="delete",
        readers="secretariat",
    ),
]
ARCHIVABLE = [r for r in RESOURCES if r.removal == "archive"]


def cases(operations: Callable[[Resource], list[Operation]]) -> list[Any]:
    """(resource, operation) parameters: ``operations`` of each resource."""
    return [pytest.param(r, op, id=f"{r}-{op}") for r in RESOURCES for op in operations(r)]


def send(
    client: TestClient,
    resource: Resource,
    operation: Operation,
    key: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> Response:
    """``operation`` on the row ``key`` (or its collection), with a valid change by default."""
    url = f"{resource.url()}/{key}"
    match operation:
        case "list":
            return client.get(resource.url(), params={"limit": 1000}, headers=headers)
        case "create":
            return client.post(resource.url(), json=body, headers=headers)
        case "get":
            return client.get(url, headers=headers)
        case "update":
            return client.patch(
                url,
                json=body or resource.changes[0],
                headers={"If-Match": '"v1"', **headers},
            )
        case "archive":
            return client.post(f"{url}/archive", headers=headers)
        case "delete":
            return client.delete(url, headers=headers)


class Context:
    """The secretariat's view of one resource in one test."""

    def __init__(
        self, client: TestClient, session: Session, settings: Settings, resource: Resource
    ) -> None:
        self.client, self.session, self.resource = client, session, resource
        self.sec = auth(settings, make_user(session, Role.secretariat))

    def counts(self) -> tuple[int, ...]:
        return row_counts(self.session, *self.resource.tables)

    def read(self, row: SQLModel) -> tuple[str, Any]:
        """The row as the API shows it: its ETag and body."""
        r = self.client.get(self.resource.url(row), headers=self.sec)
        assert r.status_code == 200, r.text
        return r.headers["ETag"], r.json()

    @contextmanager
    def unchanged(self, row: SQLModel, who: str = "") -> Iterator[None]:
        """Check that what the block does leaves the row and the counted tables as they were."""
        before = self.counts(), self.read(row)
        yield
        assert (self.counts(), self.read(row)) == before, who

    def listed(self, **params: Any) -> list[str]:
        r = self.client.get(self.resource.url(), params={"limit": 1000, **params}, headers=self.sec)
        assert r.status_code == 200, r.text
        return [str(item[self.resource.ident]) for item in r.json()["items"]]

    def audited(self, action: str, row_key: str) -> None:
        if self.resource.entity is None:
            return
        event = last_event(self.session)
        assert (event.action, event.entity_type, event.entity_id) == (
            f"{self.resource.entity}.{action}",
            self.resource.entity,
            row_key,
        )


@pytest.fixture
def make_context(
    client: TestClient, session: Session, settings: Settings
) -> Callable[[Resource], Context]:
    return lambda resource: Context(client, session, settings, resource)


ContextMaker = Callable[[Resource], Context]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_create_is_201_with_location_and_first_etag_and_is_audited(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource)
    body = resource.create_body(ctx.session)
    before = ctx.counts()
    r = ctx.client.post(resource.url(), json=body, headers=ctx.sec)
    assert r.status_code == 201, r.text
    key = str(r.json()[resource.ident])
    assert r.headers["Location"] == f"{resource.url()}/{key}"
    assert r.headers["ETag"] == '"v1"'
    assert ctx.counts()[0] == before[0] + 1
    ctx.audited("created", key)
    assert ctx.client.get(r.headers["Location"], headers=ctx.sec).headers["ETag"] == '"v1"'


@pytest.mark.parametrize(
    ("resource", "operation"),
    cases(lambda r: ["get", "update", *([r.removal] if r.removal else [])]),
)
def test_an_unknown_row_is_404_naming_it_and_writes_nothing(
    make_context: ContextMaker, resource: Resource, operation: Operation
) -> None:
    ctx = make_context(resource)
    before = ctx.counts()
    r = send(ctx.client, resource, operation, resource.unknown, ctx.sec)
    assert resource.unknown in problem(r, 404)["detail"]
    assert ctx.counts() == before


@pytest.mark.parametrize("resource", [r for r in RESOURCES if r.id_param], ids=str)
@pytest.mark.parametrize("bad_id", ["moi", str(2**63)])
def test_an_id_that_is_not_a_row_number_is_422_on_the_path(
    make_context: ContextMaker, resource: Resource, bad_id: str
) -> None:
    ctx = make_context(resource)
    r = ctx.client.get(f"{resource.url()}/{bad_id}", headers=ctx.sec)
    assert problem(r, 422)["errors"][0]["loc"] == ["path", resource.id_param]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_patch_without_if_match_is_428_and_writes_nothing(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource)
    row = resource.make(ctx.session)
    with ctx.unchanged(row):
        problem(ctx.client.patch(resource.url(row), json=resource.changes[1], headers=ctx.sec), 428)


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_patch_moves_the_etag_on_and_the_old_one_is_then_412(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource)
    row = resource.make(ctx.session)
    first, second = resource.changes
    ok = send(ctx.client, resource, "update", resource.key(row), ctx.sec, first)
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"v2"'
    ctx.audited("updated", resource.key(row))
    assert ctx.read(row)[0] == '"v2"'
    with ctx.unchanged(row):
        stale = send(ctx.client, resource, "update", resource.key(row), ctx.sec, second)
        assert '"v2"' in problem(stale, 412)["detail"]


@pytest.mark.parametrize("resource", [r for r in RESOURCES if r.unique], ids=str)
def test_create_with_a_taken_value_is_409_naming_the_stored_one_and_writes_nothing(
    make_context: ContextMaker, resource: Resource
) -> None:
    assert resource.unique is not None
    field, stored, sent = resource.unique
    ctx = make_context(resource)
    resource.make(ctx.session, **{field: stored})
    body = {**resource.create_body(ctx.session), field: sent}
    before = ctx.counts()
    r = ctx.client.post(resource.url(), json=body, headers=ctx.sec)
    assert stored in problem(r, 409)["detail"]
    assert ctx.counts() == before


@pytest.mark.parametrize(
    "resource", [r for r in RESOURCES if r.unique and r.unique_patchable], ids=str
)
def test_patch_to_a_taken_value_is_409_and_writes_nothing(
    make_context: ContextMaker, resource: Resource
) -> None:
    assert resource.unique is not None
    field, stored, sent = resource.unique
    ctx = make_context(resource)
    resource.make(ctx.session, **{field: stored})
    row = resource.make(ctx.session)
    with ctx.unchanged(row):
        problem(
            send(ctx.client, resource, "update", resource.key(row), ctx.sec, {field: sent}), 409
        )


@pytest.mark.parametrize("resource", ARCHIVABLE, ids=str)
def test_archive_hides_a_row_from_lists_unless_asked_and_is_audited_once(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource)
    live, row = resource.make(ctx.session), resource.make(ctx.session)
    r = send(ctx.client, resource, "archive", resource.key(row), ctx.sec)
    assert r.status_code == 200, r.text
    assert r.json()["archived_at"] is not None
    assert r.headers["ETag"] == '"v2"'
    ctx.audited("archived", resource.key(row))
    listed = ctx.listed()
    assert resource.key(live) in listed
    assert resource.key(row) not in listed
    assert resource.key(row) in ctx.listed(include_archived="true")
    # Still readable directly, and archiving again changes nothing.
    with ctx.unchanged(row):
        again = send(ctx.client, resource, "archive", resource.key(row), ctx.sec)
        assert again.status_code == 200, again.text
        assert again.json()["archived_at"] == r.json()["archived_at"]


@pytest.mark.parametrize("resource", ARCHIVABLE, ids=str)
def test_rows_archived_elsewhere_are_listed_only_with_include_archived(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource)
    live = resource.key(resource.make(ctx.session))
    gone = resource.key(resource.make(ctx.session, archived_at=models.utcnow()))
    listed, everything = ctx.listed(), ctx.listed(include_archived="true")
    assert (live in listed, gone in listed) == (True, False)
    assert [k for k in everything if k in (live, gone)] == [live, gone]


@pytest.mark.parametrize(("resource", "operation"), cases(Resource.operations))
def test_refused_callers_write_nothing(
    make_context: ContextMaker, settings: Settings, resource: Resource, operation: Operation
) -> None:
    """Each failing bearer token is 401; callers without the role are 403; with a valid
    body on a real row, nothing is written either way."""
    ctx = make_context(resource)
    row = resource.make(ctx.session)
    body = resource.create_body(ctx.session) if operation == "create" else None
    someone = make_user(ctx.session, Role.secretariat)
    callers = {kind: (401, bad_auth(settings, someone, kind)) for kind in BAD_CREDENTIALS}
    if operation not in ("list", "get") or resource.readers == "secretariat":
        callers |= {who: (403, headers_as(ctx.session, settings, who)) for who in NON_SECRETARIAT}
    for who, (status, headers) in callers.items():
        with ctx.unchanged(row, who):
            r = send(ctx.client, resource, operation, resource.key(row), headers, body)
            assert r.status_code == status, f"{who}: {r.text}"
            problem(r, status)


@pytest.mark.parametrize(
    ("resource", "operation"),
    cases(lambda r: ["list", "get"] if r.readers == "everyone" else []),
)
def test_every_reader_sees_the_row(
    make_context: ContextMaker, settings: Settings, resource: Resource, operation: Operation
) -> None:
    ctx = make_context(resource)
    row = resource.make(ctx.session)
    for who in NON_SECRETARIAT:
        headers = headers_as(ctx.session, settings, who)
        r = send(ctx.client, resource, operation, resource.key(row), headers)
        assert r.status_code == 200, f"{who}: {r.text}"
        items = r.json()["items"] if operation == "list" else [r.json()]
        assert resource.key(row) in [str(x[resource.ident]) for x in items], who
