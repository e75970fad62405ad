"""The treaty provision catalogue over HTTP."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import last_event, problem, row_counts
from tests.credentials import auth
from tests.factories import make_provision, make_user
from tests.resources import ContextMaker
from vpitracker.config import Settings
from vpitracker.models import Provision
from vpitracker.vocab import CLUSTER_NAMES, Role


def shipped_catalogue() -> list[dict[str, str]]:
    text = resources.files("vpitracker.data").joinpath("provisions.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def walk(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = client.get("/v1/provisions", params=query, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def counts(session: Session) -> tuple[int, ...]:
    return row_counts(session, Provision)


class TestCatalogue:
    def test_all_107_shipped_provisions_are_present_after_migration(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        items = walk(client, auth(settings, make_user(session, Role.viewer)), limit=1000)
        shipped = shipped_catalogue()
        assert len(items) == len(shipped) == 107
        by_key = {p["key"]: p for p in items}
        for row in shipped:
            got = by_key[row["key"]]
            cluster = int(row["cluster"]) if row["cluster"] else None
            assert (got["instrument"], got["article"], got["title"], got["cluster"]) == (
                row["instrument"],
                row["article"],
                row["title"],
                cluster,
            ), row["key"]

    def test_tip_6_is_the_trafficking_protocols_victim_protection_article(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.get("/v1/provisions/TIP-6", headers=auth(settings, make_user(session)))
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"v1"'
        body = r.json()
        assert (body["key"], body["instrument"], body["article"]) == (
            "TIP-6",
            "trafficking_protocol",
            "6",
        )
        assert "victims" in body["title"]

    def test_cluster_name_comes_with_the_cluster(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        body = client.get("/v1/provisions/UNTOC-5", headers=auth(settings, make_user(session)))
        assert (body.json()["cluster"], body.json()["cluster_name"]) == (1, CLUSTER_NAMES[1])


class TestListProvisions:
    def test_filters_by_instrument_and_cluster(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        shipped = shipped_catalogue()
        firearms = walk(client, headers, instrument="firearms_protocol", limit=1000)
        assert {p["key"] for p in firearms} == {
            r["key"] for r in shipped if r["instrument"] == "firearms_protocol"
        }
        cluster_1 = walk(client, headers, cluster=1, limit=1000)
        assert {p["key"] for p in cluster_1} == {r["key"] for r in shipped if r["cluster"] == "1"}
        both = walk(client, headers, cluster=1, instrument="smuggling_protocol", limit=1000)
        assert {p["key"] for p in both} == {
            r["key"]
            for r in shipped
            if r["cluster"] == "1" and r["instrument"] == "smuggling_protocol"
        }
        assert both

    def test_pages_through_the_catalogue_by_key_cursor(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        items = walk(client, headers, limit=10)
        keys = [p["key"] for p in items]
        assert len(keys) == 107
        assert keys == sorted(keys)

    def test_sorts_descending_and_by_instrument(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        keys = [p["key"] for p in walk(client, headers, sort="-key", limit=1000)]
        assert keys == sorted(keys, reverse=True)
        by_instrument = walk(client, headers, sort="instrument", limit=25)
        pairs = [(p["instrument"], p["key"]) for p in by_instrument]
        assert pairs == sorted(pairs)
        assert len(pairs) == 107

    @pytest.mark.parametrize(
        "params", [{"sort": "title"}, {"instrument": "geneva"}, {"cluster": 5}, {"limit": 1001}]
    )
    def test_invalid_query_is_422(
        self, client: TestClient, session: Session, settings: Settings, params: dict[str, Any]
    ) -> None:
        r = client.get("/v1/provisions", params=params, headers=auth(settings, make_user(session)))
        (name,) = params
        assert problem(r, 422)["errors"][0]["loc"] == ["query", name]


class TestCreateProvision:
    def test_secretariat_adds_one_and_it_is_audited(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        r = client.post(
            "/v1/provisions",
            json={
                "key": "UNTOC-5BIS",
                "instrument": "untoc",
                "article": "5 bis",
                "title": "A new article",
                "cluster": 3,
            },
            headers=auth(settings, make_user(session)),
        )
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == "/v1/provisions/UNTOC-5BIS"
        assert r.headers["ETag"] == '"v1"'
        assert r.json()["cluster_name"] == CLUSTER_NAMES[3]
        event = last_event(session)
        assert (event.action, event.entity_type, event.entity_id) == (
            "provision.created",
            "provision",
            "UNTOC-5BIS",
        )

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"key": "tip 6"}, ["body", "key"]),
            ({"cluster": 5}, ["body", "cluster"]),
            ({"instrument": "geneva"}, ["body", "instrument"]),
            ({"title": ""}, ["body", "title"]),
            ({"verified": True}, ["body", "verified"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, change: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("provisions")
        body = {"key": "UNTOC-99", "instrument": "untoc", "article": "99", "title": "T", **change}
        with ctx.unchanged():
            assert problem(ctx.post(body), 422)["errors"][0]["loc"] == loc


class TestUpdateProvision:
    def test_patch_cluster_with_if_match(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        headers = auth(settings, make_user(session))
        etag = client.get("/v1/provisions/TIP-6", headers=headers).headers["ETag"]
        r = client.patch(
            "/v1/provisions/TIP-6", json={"cluster": 2}, headers={**headers, "If-Match": etag}
        )
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] != etag
        assert (r.json()["cluster"], r.json()["cluster_name"]) == (2, CLUSTER_NAMES[2])
        event = last_event(session)
        assert (event.action, event.entity_id) == ("provision.updated", "TIP-6")
        assert json.loads(event.data) == {"cluster": {"old": None, "new": 2}}
        listed = client.get(
            "/v1/provisions?cluster=2&instrument=trafficking_protocol", headers=headers
        )
        assert [p["key"] for p in listed.json()["items"]] == ["TIP-6"]
        # Clearing the cluster again is allowed (null is a valid cluster).
        cleared = client.patch(
            "/v1/provisions/TIP-6",
            json={"cluster": None},
            headers={**headers, "If-Match": r.headers["ETag"]},
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["cluster"] is None

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"cluster": 7}, ["body", "cluster"]),
            ({"title": None}, ["body", "title"]),
            ({"key": "TIP-7"}, ["body", "key"]),
        ],
    )
    def test_invalid_or_unknown_field_is_422_and_writes_nothing(
        self, make_context: ContextMaker, body: dict[str, Any], loc: list[str]
    ) -> None:
        ctx = make_context("provisions")
        session = ctx.session
        provision = make_provision(session, cluster=1)
        with ctx.unchanged(provision):
            assert problem(ctx.patch(provision, body), 422)["errors"][0]["loc"] == loc
