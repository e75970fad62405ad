"""The versioned resources under /v1, how to make their rows and bodies, and a
secretariat's view of one in a test (``make_context`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, SQLModel

from tests.assertions import last_event, row_counts
from tests.credentials import auth
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
    # The entity type in the audit log: every write to every resource is audited.
    entity: str
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
        entity="webhook_subscription",
        removal="delete",
        readers="secretariat",
    ),
]


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

    def post(self, body: dict[str, Any]) -> Response:
        """POST ``body`` to the collection as the secretariat."""
        response: Response = self.client.post(self.resource.url(), json=body, headers=self.sec)
        return response

    def patch(self, row: SQLModel, body: dict[str, Any], if_match: str = '"v1"') -> Response:
        """PATCH ``row`` with ``body`` as the secretariat."""
        return send(
            self.client,
            self.resource,
            "update",
            self.resource.key(row),
            {**self.sec, "If-Match": if_match},
            body,
        )

    def counts(self) -> tuple[int, ...]:
        return row_counts(self.session, *self.resource.tables)

    def read(self, row: SQLModel) -> tuple[str, Any]:
        """The row as the API shows it: its ETag and body."""
        r = self.client.get(self.resource.url(row), headers=self.sec)
        assert r.status_code == 200, r.text
        return r.headers["ETag"], r.json()

    @contextmanager
    def unchanged(self, row: SQLModel | None = None, who: str = "") -> Iterator[None]:
        """Check that the block leaves the counted tables (and ``row``, as read) as they were."""
        before = self.counts(), None if row is None else self.read(row)
        yield
        assert (self.counts(), None if row is None else self.read(row)) == before, who

    def listed(self, **params: Any) -> list[str]:
        r = self.client.get(self.resource.url(), params={"limit": 1000, **params}, headers=self.sec)
        assert r.status_code == 200, r.text
        return [str(item[self.resource.ident]) for item in r.json()["items"]]

    def audited(self, action: str, row_key: str) -> None:
        event = last_event(self.session)
        assert (event.action, event.entity_type, event.entity_id) == (
            f"{self.resource.entity}.{action}",
            self.resource.entity,
            row_key,
        )


def resource(name: str) -> Resource:
    """The resource served under ``/v1/<name>``."""
    return next(r for r in RESOURCES if r.name == name)


ContextMaker = Callable[[str], Context]
