"""A real ``vpitracker serve`` process over real HTTP, with concurrent writers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live import LiveServer, prepare, serve

pytestmark = pytest.mark.server


@pytest.fixture
def live(scratch_database_url: str) -> Iterator[LiveServer]:
    with serve(prepare(scratch_database_url)) as server:
        yield server


def _setup_commitment(client: httpx.Client) -> int:
    m = client.post("/v1/ministries", json={"code": "MOI", "name": "Interior", "kind": "ministry"})
    assert m.status_code == 201, m.text
    c = client.post(
        "/v1/commitments",
        json={
            "code": "GOK-1",
            "title": "Adopt the referral mechanism",
            "description": "SOPs adopted and focal points trained",
            "lead_ministry_id": m.json()["id"],
            "due_date": "2030-12-31",
            "indicator": "SOPs adopted",
        },
    )
    assert c.status_code == 201, c.text
    return int(c.json()["id"])


def _client(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


class TestServe:
    def test_migrates_on_start_and_answers_health(self, live: LiveServer) -> None:
        assert httpx.get(f"{live.url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{live.url}/readyz").status_code == 200
        docs = httpx.get(f"{live.url}/openapi.json").json()
        assert "/v1/commitments" in docs["paths"]

    def test_sign_in_write_and_verify_over_http(self, live: LiveServer) -> None:
        with _client(live, live.token()) as client:
            commitment_id = _setup_commitment(client)
            r = client.post(
                f"/v1/commitments/{commitment_id}/status-updates",
                json={"status": "in_progress", "progress_percent": 40, "summary": "SOPs drafted"},
            )
            assert r.status_code == 201, r.text
            state = client.get(f"/v1/commitments/{commitment_id}").json()
            assert (state["reported_status"], state["progress_percent"]) == ("in_progress", 40)
            verify = client.get("/v1/audit/verify").json()
        assert verify["ok"] is True
        assert verify["checked"] == verify["head"]["seq"] >= 4


class TestConcurrentWriters:
    def _hammer(self, live: LiveServer, threads: int, per_thread: int) -> tuple[int, list[int]]:
        token = live.token()
        with _client(live, token) as client:
            commitment_id = _setup_commitment(client)

        def worker(n: int) -> list[int]:
            codes = []
            with _client(live, token) as c:
                for i in range(per_thread):
                    r = c.post(
                        f"/v1/commitments/{commitment_id}/status-updates",
                        json={
                            "status": "in_progress",
                            "progress_percent": (n + i) % 100,
                            "summary": f"report {n}-{i}",
                        },
                    )
                    codes.append(r.status_code)
            return codes

        with ThreadPoolExecutor(threads) as pool:
            codes = [c for batch in pool.map(worker, range(threads)) for c in batch]
        return commitment_id, codes

    def _check(self, live: LiveServer, commitment_id: int, expected: int) -> None:
        with _client(live, live.token()) as client:
            seen = 0
            cursor = None
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = client.get(
                    f"/v1/commitments/{commitment_id}/status-updates", params=params
                ).json()
                seen += len(page["items"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            verify = client.get("/v1/audit/verify").json()
        assert seen == expected
        assert verify["ok"] is True, verify
        # ministry + commitment + one event per update, seq gap-free from 1.
        assert verify["checked"] == verify["head"]["seq"] == expected + 3

    @pytest.mark.postgres_only
    def test_sixteen_threads_post_640_updates(self, live: LiveServer) -> None:
        commitment_id, codes = self._hammer(live, threads=16, per_thread=40)
        assert codes.count(201) == 640, sorted(set(codes))
        self._check(live, commitment_id, 640)

    @pytest.mark.sqlite_only
    def test_sqlite_single_writer_serializes_concurrent_posts(self, live: LiveServer) -> None:
        commitment_id, codes = self._hammer(live, threads=8, per_thread=15)
        assert codes.count(201) == 120, sorted(set(codes))
        self._check(live, commitment_id, 120)

    def test_same_idempotency_key_twenty_times_creates_one_update(self, live: LiveServer) -> None:
        token = live.token()
        with _client(live, token) as client:
            commitment_id = _setup_commitment(client)
        body = {"status": "in_progress", "progress_percent": 10, "summary": "once"}

        def post(_: int) -> httpx.Response:
            with _client(live, token) as c:
                return c.post(
                    f"/v1/commitments/{commitment_id}/status-updates",
                    json=body,
                    headers={"Idempotency-Key": "retry-42"},
                )

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(post, range(20)))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 409}, statuses
        created = {r.json()["id"] for r in responses if r.status_code == 201}
        assert len(created) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == (
            statuses.count(201) - 1
        )
        with _client(live, token) as client:
            items = client.get(f"/v1/commitments/{commitment_id}/status-updates").json()["items"]
        assert len(items) == 1
