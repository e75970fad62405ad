"""Failed sign-ins are throttled per account and per address, in the database."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from tests.conftest import test_settings
from tests.factories import PASSWORD, make_user
from tests.live import SECRETARIAT_EMAIL, SECRETARIAT_PASSWORD, prepare, serve
from vpitracker.auth import passwords
from vpitracker.auth.service import account_key
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, LoginFailure


def _login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/v1/auth/token", data={"username": email, "password": password})


class TestAccountThrottle:
    def test_eleventh_attempt_is_refused_even_with_the_right_password(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_user(session)
        for _ in range(10):
            assert _login(client, user.email, "wrong password!").status_code == 401
        refused = _login(client, user.email, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["status"] == 429
        # Another account from the same address still signs in.
        other = make_user(session)
        assert _login(client, other.email, PASSWORD).status_code == 200

    def test_failures_are_recorded_and_audited_despite_the_401(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session)
        before = session.exec(select(func.count()).select_from(AuditEvent)).one()
        assert _login(client, user.email.upper(), "wrong password!").status_code == 401
        assert _login(client, "nobody@example.org", "whatever").status_code == 401
        rows = session.exec(select(LoginFailure.account)).all()
        keys = [account_key(settings, user.email), account_key(settings, "nobody@example.org")]
        assert sorted(rows) == sorted(keys)
        assert not any("@" in row for row in rows)
        events = session.exec(
            select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)  # type: ignore[arg-type]
        ).all()
        assert [e.action for e in events] == ["user.login_failed", "user.login_failed"]

    def test_unknown_and_known_accounts_cost_the_same_hash_check(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = make_user(session)
        calls: list[str] = []
        real = passwords._hasher

        class CountingHasher:
            def verify(self, hash_: str, password: str) -> bool:
                calls.append(hash_)
                return real.verify(hash_, password)

        monkeypatch.setattr(passwords, "_hasher", CountingHasher())
        _login(client, user.email, "wrong password!")
        _login(client, "nobody@example.org", "wrong password!")
        # One argon2 verification each: the response time does not tell them apart.
        assert len(calls) == 2


class TestAddressThrottle:
    @pytest.fixture
    def settings(self) -> Settings:
        return test_settings(login_max_failures_per_address=5)

    def test_many_accounts_from_one_address_are_throttled(
        self, client: TestClient, session: Session
    ) -> None:
        for n in range(5):
            assert _login(client, f"guess{n}@example.org", "nope").status_code == 401
        user = make_user(session)
        assert _login(client, user.email, PASSWORD).status_code == 429


@pytest.mark.server
class TestAcrossProcesses:
    @pytest.fixture
    def env(self, scratch_database_url: str) -> dict[str, str]:
        return prepare(scratch_database_url)

    def test_limit_holds_across_two_server_processes(self, env: dict[str, str]) -> None:
        with serve(env) as first, serve(env) as second:
            for n in range(10):
                server = first if n % 2 else second
                r = httpx.post(
                    f"{server.url}/v1/auth/token",
                    data={"username": SECRETARIAT_EMAIL, "password": "wrong password!"},
                )
                assert r.status_code == 401
            for server in (first, second):
                r = httpx.post(
                    f"{server.url}/v1/auth/token",
                    data={"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD},
                )
                assert r.status_code == 429
                assert "Retry-After" in r.headers


def _from(address: str) -> httpx.Client:
    """A client whose connections leave from ``address`` (a loopback address)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


@pytest.mark.server
class TestOneAttackerCannotLockOthersOut:
    def test_failures_from_one_address_do_not_lock_the_account_elsewhere(
        self, scratch_database_url: str
    ) -> None:
        env = prepare(scratch_database_url, VPI_LOGIN_MAX_FAILURES_PER_ACCOUNT="3")
        wrong = {"username": SECRETARIAT_EMAIL, "password": "wrong password!"}
        right = {"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD}
        with serve(env) as live, _from("127.0.0.2") as attacker, _from("127.0.0.1") as owner:
            url = f"{live.url}/v1/auth/token"
            assert [attacker.post(url, data=wrong).status_code for _ in range(3)] == [401] * 3
            locked = attacker.post(url, data=right)
            assert locked.status_code == 429
            assert int(locked.headers["Retry-After"]) > 0
            assert owner.post(url, data=right).status_code == 200

    def test_failures_of_the_account_everywhere_slow_it_down_progressively(
        self, scratch_database_url: str
    ) -> None:
        env = prepare(
            scratch_database_url,
            VPI_LOGIN_MAX_FAILURES_PER_ACCOUNT="100",
            VPI_LOGIN_ACCOUNT_SLOW_AFTER="3",
            VPI_LOGIN_ACCOUNT_DELAY_STEP_SECONDS="1",
            VPI_LOGIN_ACCOUNT_MAX_DELAY_SECONDS="5",
        )
        wrong = {"username": SECRETARIAT_EMAIL, "password": "wrong password!"}
        right = {"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD}
        with serve(env) as live, _from("127.0.0.2") as attacker, _from("127.0.0.1") as owner:
            url = f"{live.url}/v1/auth/token"
            baseline = owner.post(url, data=right)
            assert baseline.status_code == 200
            for _ in range(4):
                assert attacker.post(url, data=wrong).status_code == 401
            slowed = owner.post(url, data=right)
            # Not locked out, only delayed: 1 s per failure from the limit on (4 - 3 + 1).
            assert slowed.status_code == 200
            assert baseline.elapsed.total_seconds() < 2.0 <= slowed.elapsed.total_seconds()


@pytest.mark.server
def test_trusted_proxies_forward_the_client_address_and_nobody_else_does(
    scratch_database_url: str,
) -> None:
    env = prepare(
        scratch_database_url,
        VPI_TRUSTED_PROXIES="127.0.0.2",
        VPI_LOGIN_MAX_FAILURES_PER_ADDRESS="3",
    )
    wrong = {"username": "nobody@example.org", "password": "wrong password!"}
    right = {"username": SECRETARIAT_EMAIL, "password": SECRETARIAT_PASSWORD}

    def via(client: httpx.Client, url: str, data: dict[str, str], forwarded: str) -> int:
        return client.post(url, data=data, headers={"X-Forwarded-For": forwarded}).status_code

    with serve(env) as live, _from("127.0.0.2") as proxy, _from("127.0.0.1") as direct:
        url = f"{live.url}/v1/auth/token"
        # Through the proxy, the forwarded address is the one that counts.
        assert [via(proxy, url, wrong, "198.51.100.7") for _ in range(3)] == [401] * 3
        assert via(proxy, url, right, "198.51.100.7") == 429
        assert via(proxy, url, right, "198.51.100.8") == 200
        # From anyone else the header is ignored: a new forwarded address each time
        # does not escape the throttle of the real address.
        codes = [via(direct, url, wrong, f"203.0.113.{n}") for n in range(3)]
        assert codes == [401] * 3
        assert via(direct, url, right, "203.0.113.99") == 429
