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

from collections.abc import Callable
from typing import Any

import pytest

from tests.assertions import problem
from tests.credentials import BAD_CREDENTIALS, NON_SECRETARIAT, bad_auth, headers_as
from tests.factories import make_user
from tests.resources import RESOURCES, ContextMaker, Operation, Resource, send
from vpitracker import models
from vpitracker.config import Settings
from vpitracker.vocab import Role

ARCHIVABLE = [r for r in RESOURCES if r.removal == "archive"]
DELETABLE = [r for r in RESOURCES if r.removal == "delete"]


def cases(operations: Callable[[Resource], list[Operation]]) -> list[Any]:
    """(resource, operation) parameters: ``operations`` of each resource."""
    return [pytest.param(r, op, id=f"{r}-{op}") for r in RESOURCES for op in operations(r)]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_create_is_201_with_location_and_first_etag_and_is_audited(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
    body = resource.create_body(ctx.session)
    before = ctx.counts()
    r = ctx.post(body)
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
    ctx = make_context(resource.name)
    before = ctx.counts()
    r = send(ctx.client, resource, operation, resource.unknown, ctx.sec)
    assert resource.unknown in problem(r, 404)["detail"]
    assert ctx.counts() == before


@pytest.mark.parametrize("resource", [r for r in RESOURCES if r.id_param], ids=str)
@pytest.mark.parametrize("bad_id", ["moi", str(2**63)])
def test_an_id_that_is_not_a_row_number_is_422_on_the_path(
    make_context: ContextMaker, resource: Resource, bad_id: str
) -> None:
    ctx = make_context(resource.name)
    r = ctx.client.get(f"{resource.url()}/{bad_id}", headers=ctx.sec)
    assert problem(r, 422)["errors"][0]["loc"] == ["path", resource.id_param]


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_patch_without_if_match_is_428_and_writes_nothing(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
    row = resource.make(ctx.session)
    with ctx.unchanged(row):
        problem(ctx.client.patch(resource.url(row), json=resource.changes[1], headers=ctx.sec), 428)


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_a_patch_moves_the_etag_on_and_the_old_one_is_then_412(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
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


@pytest.mark.parametrize(
    ("resource", "operation"),
    cases(
        lambda r: [] if not r.unique else ["create", "update"] if r.unique_patchable else ["create"]
    ),
)
def test_a_taken_unique_value_is_409_naming_it_and_writes_nothing(
    make_context: ContextMaker, resource: Resource, operation: Operation
) -> None:
    assert resource.unique is not None
    field, stored, sent = resource.unique
    ctx = make_context(resource.name)
    resource.make(ctx.session, **{field: stored})
    row = resource.make(ctx.session)
    body = {**resource.create_body(ctx.session), field: sent}
    with ctx.unchanged(row):
        r = ctx.post(body) if operation == "create" else ctx.patch(row, {field: sent})
        assert stored in problem(r, 409)["detail"]


@pytest.mark.parametrize("resource", ARCHIVABLE, ids=str)
def test_archive_hides_a_row_from_lists_unless_asked_and_is_audited_once(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
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


@pytest.mark.parametrize("resource", DELETABLE, ids=str)
def test_delete_removes_the_row_and_is_audited_once(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
    row = resource.make(ctx.session)
    before = ctx.counts()
    r = send(ctx.client, resource, "delete", resource.key(row), ctx.sec)
    assert r.status_code == 204, r.text
    assert ctx.counts() == (before[0] - 1, *before[1:-1], before[-1] + 1)
    ctx.audited("deleted", resource.key(row))
    problem(send(ctx.client, resource, "get", resource.key(row), ctx.sec), 404)


@pytest.mark.parametrize("resource", ARCHIVABLE, ids=str)
def test_rows_archived_elsewhere_are_listed_only_with_include_archived(
    make_context: ContextMaker, resource: Resource
) -> None:
    ctx = make_context(resource.name)
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
    ctx = make_context(resource.name)
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
    ctx = make_context(resource.name)
    row = resource.make(ctx.session)
    for who in NON_SECRETARIAT:
        headers = headers_as(ctx.session, settings, who)
        r = send(ctx.client, resource, operation, resource.key(row), headers)
        assert r.status_code == 200, f"{who}: {r.text}"
        items = r.json()["items"] if operation == "list" else [r.json()]
        assert resource.key(row) in [str(x[resource.ident]) for x in items], who
