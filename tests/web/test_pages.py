"""The web pages over HTTP, in process: sessions, CSRF, forms through the API's services.

Every write test counts rows (and audit events) before and after: a refused form
writes nothing, an accepted one writes exactly what the API would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.assertions import last_event, row_counts
from tests.conftest import test_settings
from tests.factories import (
    PASSWORD,
    make_assessment,
    make_commitment,
    make_ministry,
    make_user,
    record_created,
)
from vpitracker.auth import service as auth_service
from vpitracker.auth.service import account_key
from vpitracker.config import Environment, Settings
from vpitracker.models import Assessment, LoginFailure, StatusUpdate, User, utcnow
from vpitracker.openapi_doc import render
from vpitracker.vocab import Role
from vpitracker.web import session as cookies

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def web(client: TestClient) -> TestClient:
    # Outside development the cookie is Secure: the browser only sends it over https.
    client.base_url = httpx.URL("https://testserver")
    client.follow_redirects = False
    return client


def csrf(web: TestClient, path: str = "/login") -> str:
    page = web.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, "no csrf_token on the form"
    return found.group(1)


def sign_in(web: TestClient, user: User) -> None:
    r = web.post(
        "/login",
        data={"username": user.email, "password": PASSWORD, "csrf_token": csrf(web), "next": "/"},
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"


def counts(session: Session) -> tuple[int, ...]:
    session.expire_all()
    return row_counts(session, StatusUpdate, Assessment)


def ready(
    web: TestClient, session: Session, user: User, commitment_id: int
) -> tuple[str, tuple[int, ...]]:
    """Signed in as ``user`` on a commitment page: its form token and the row counts."""
    sign_in(web, user)
    return csrf(web, f"/commitments/{commitment_id}"), counts(session)


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    mine, other = make_ministry(session), make_ministry(session)
    return {
        "mine": mine,
        "other": other,
        "officer": make_user(session, Role.government_officer, ministries=[mine]),
        "member": make_user(session, Role.alliance_member, organization="HAART Kenya"),
        "secretariat": make_user(session, Role.secretariat),
        "viewer": make_user(session, Role.viewer),
        "own": make_commitment(session, lead=mine),
        "foreign": make_commitment(session, lead=other),
    }


def update_form(token: str, **fields: Any) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "status": "in_progress",
        "progress_percent": "45",
        "summary": "Regulations gazetted",
        "evidence_url": ["https://example.org/gazette.pdf", ""],
        "evidence_title": ["Gazette notice", ""],
        **fields,
    }


class TestSessions:
    def test_sign_in_sets_a_signed_httponly_lax_secure_cookie(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        r = web.post(
            "/login",
            data={"username": world["officer"].email, "password": PASSWORD,
                  "csrf_token": csrf(web), "next": "/my"},
        )  # fmt: skip
        assert r.status_code == 303
        assert r.headers["location"] == "/my"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"{cookies.COOKIE_NAME}=")
        for flag in ("HttpOnly", "SameSite=lax", "Secure", "Path=/"):
            assert flag.lower() in cookie.lower()
        assert world["officer"].full_name in web.get("/my").text

    def test_cookie_is_not_secure_in_development_only(self) -> None:
        dev = cookies.cookie_options(test_settings(env=Environment.development))
        assert dev["secure"] is False
        assert dev["httponly"] is True
        assert dev["samesite"] == "lax"
        assert cookies.cookie_options(test_settings())["secure"] is True

    def test_the_api_never_accepts_the_page_cookie(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        sign_in(web, world["secretariat"])
        assert web.get("/my").status_code == 200  # the cookie works on pages
        assert web.get("/v1/me").status_code == 401
        assert web.get("/v1/commitments").status_code == 401
        r = web.post(
            f"/v1/commitments/{world['own'].id}/status-updates",
            json={"status": "in_progress", "progress_percent": 5, "summary": "x"},
        )
        assert r.status_code == 401

    def test_wrong_password_rerenders_and_is_throttled_like_the_api(
        self, web: TestClient, world: dict[str, Any], session: Session, settings: Settings
    ) -> None:
        officer = world["officer"]
        before = counts(session)
        for _ in range(settings.login_max_failures_per_account):
            r = web.post(
                "/login",
                data={"username": officer.email, "password": "wrong-password!",
                      "csrf_token": csrf(web)},
            )  # fmt: skip
            assert r.status_code == 401
            assert "Incorrect email or password" in r.text
        assert counts(session)[-1] == before[-1] + settings.login_max_failures_per_account
        # The same database throttle as POST /v1/auth/token: now even the right password fails,
        # on the page and on the API.
        r = web.post(
            "/login",
            data={"username": officer.email, "password": PASSWORD, "csrf_token": csrf(web)},
        )
        assert r.status_code == 429
        assert "retry-after" in r.headers
        api = web.post("/v1/auth/token", data={"username": officer.email, "password": PASSWORD})
        assert api.status_code == 429
        session.expire_all()
        account = account_key(settings, officer.email)
        failures = session.exec(select(LoginFailure).where(LoginFailure.account == account))
        assert len(failures.all()) >= settings.login_max_failures_per_account

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda user: setattr(user, "is_active", False), id="deactivated"),
            # The same rule as bearer tokens: "sign out everywhere", a password or role
            # change bumps the credential version, and the page session ends with it.
            pytest.param(auth_service.bump_credential_version, id="credential-version"),
        ],
    )
    def test_a_change_to_the_account_ends_the_page_session(
        self,
        web: TestClient,
        world: dict[str, Any],
        session: Session,
        change: Callable[[User], None],
    ) -> None:
        officer = world["officer"]
        sign_in(web, officer)
        assert web.get("/my").status_code == 200
        change(officer)
        session.add(officer)
        session.commit()
        r = web.get("/my")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")

    def test_a_forged_or_tampered_cookie_is_refused(
        self, web: TestClient, world: dict[str, Any], settings: Settings
    ) -> None:
        good = cookies.encode(
            settings,
            cookies.PageSession.anonymous().signed_in(
                world["secretariat"].id, world["secretariat"].credential_version
            ),
        )
        payload, _, mac = good.rpartition(".")
        other = cookies.encode(
            settings,
            cookies.PageSession.anonymous().signed_in(
                world["officer"].id, world["officer"].credential_version
            ),
        )
        web.cookies.clear()
        for forged in (f"{other.rpartition('.')[0]}.{mac}", f"{payload}.{'0' * 64}", "garbage"):
            r = web.get("/my", headers={"Cookie": f"{cookies.COOKIE_NAME}={forged}"})
            assert r.status_code == 303
        r = web.get("/my", headers={"Cookie": f"{cookies.COOKIE_NAME}={good}"})
        assert r.status_code == 200

    def test_logout_ends_the_session(self, web: TestClient, world: dict[str, Any]) -> None:
        sign_in(web, world["member"])
        token = csrf(web, "/logout")
        r = web.post("/logout", data={"csrf_token": token})
        assert r.status_code == 303
        assert r.headers["location"] == "/login"
        assert web.get("/my").status_code == 303

    def test_next_never_leaves_the_site(self, web: TestClient, world: dict[str, Any]) -> None:
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            r = web.post(
                "/login",
                data={"username": world["member"].email, "password": PASSWORD,
                      "csrf_token": csrf(web), "next": target},
            )  # fmt: skip
            assert r.headers["location"] == "/"


class TestCsrf:
    def test_post_without_or_with_a_wrong_token_is_403_and_writes_nothing(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        sign_in(web, world["officer"])
        good = csrf(web, f"/commitments/{world['own'].id}")
        before = counts(session)
        url = f"/commitments/{world['own'].id}/status-updates"
        for token in ("", "0" * 64, good[::-1]):
            r = web.post(url, data=update_form(token))
            assert r.status_code == 403, r.text
            assert "text/html" in r.headers["content-type"]
        assert counts(session) == before
        assert web.post(url, data=update_form(good)).status_code == 303
        assert counts(session) == (before[0] + 1, before[1], before[2] + 1)

    def test_a_token_from_before_sign_in_is_worthless_after(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        stale = csrf(web)
        sign_in(web, world["officer"])
        before = counts(session)
        r = web.post(f"/commitments/{world['own'].id}/status-updates", data=update_form(stale))
        assert r.status_code == 403
        assert counts(session) == before

    def test_sign_in_without_a_token_is_refused(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        web.get("/login")
        r = web.post("/login", data={"username": world["member"].email, "password": PASSWORD})
        assert r.status_code == 403
        assert web.get("/my").status_code == 303


class TestStatusUpdateForm:
    def test_officer_posts_through_the_service_with_its_audit_event(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        own = world["own"]
        token, before = ready(web, session, world["officer"], own.id)
        r = web.post(f"/commitments/{own.id}/status-updates", data=update_form(token))
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/commitments/{own.id}?posted=update#update-")
        assert counts(session) == (before[0] + 1, before[1], before[2] + 1)
        event = last_event(session)
        assert event.action == "status_update.posted"
        assert event.actor_id == world["officer"].id
        update = session.get(StatusUpdate, event.entity_id)
        assert update is not None
        assert update.progress_percent == 45
        assert update.evidence == [
            {"url": "https://example.org/gazette.pdf", "title": "Gazette notice"}
        ]
        # PRG: the GET after the redirect shows it.
        shown = web.get(r.headers["location"].split("#")[0])
        assert "Regulations gazetted" in shown.text
        assert "Your status update was posted" in shown.text

    def test_officer_is_refused_for_another_ministrys_commitment(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        sign_in(web, world["officer"])
        foreign = world["foreign"]
        page = web.get(f"/commitments/{foreign.id}")
        assert "Post a status update" not in page.text  # no form offered
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        before = counts(session)
        r = web.post(f"/commitments/{foreign.id}/status-updates", data=update_form(token))
        assert r.status_code == 403
        assert "None of your ministries" in r.text
        assert counts(session) == before

    def test_a_member_may_not_post_an_update(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        token, before = ready(web, session, world["member"], world["own"].id)
        r = web.post(f"/commitments/{world['own'].id}/status-updates", data=update_form(token))
        assert r.status_code == 403
        assert counts(session) == before

    @pytest.mark.parametrize(
        ("fields", "field", "message"),
        [
            ({"progress_percent": "lots"}, "progress_percent", "must be a number"),
            ({"progress_percent": "140"}, "progress_percent", "less than or equal to 100"),
            ({"summary": "   "}, "summary", ""),
            ({"status": "finished"}, "status", ""),
            ({"evidence_url": ["javascript:alert(1)"], "evidence_title": ["x"]}, "evidence", ""),
            ({"status": "completed", "progress_percent": "90"}, "__all__", "progress_percent 100"),
        ],
    )
    def test_invalid_input_rerenders_with_errors_and_writes_nothing(
        self,
        web: TestClient,
        world: dict[str, Any],
        session: Session,
        fields: dict[str, Any],
        field: str,
        message: str,
    ) -> None:
        own = world["own"]
        token, before = ready(web, session, world["officer"], own.id)
        r = web.post(
            f"/commitments/{own.id}/status-updates",
            data=update_form(token, summary="Kept text <b>", **fields) if "summary" not in fields
            else update_form(token, **fields),
        )  # fmt: skip
        assert r.status_code == 422
        assert f'id="u-{field}-error"' in r.text
        assert message in r.text
        if "summary" not in fields:
            assert "Kept text &lt;b&gt;" in r.text  # what was typed comes back, escaped
        assert counts(session) == before

    def test_a_reply_must_name_a_dispute_of_this_commitment(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        elsewhere = make_assessment(
            session, world["foreign"], by=world["member"], at=utcnow(), verdict="disputes"
        )
        own = world["own"]
        token, before = ready(web, session, world["officer"], own.id)
        r = web.post(
            f"/commitments/{own.id}/status-updates",
            data=update_form(token, in_reply_to_assessment_id=str(elsewhere.id)),
        )
        assert r.status_code == 422
        assert 'id="u-in_reply_to_assessment_id-error"' in r.text
        assert counts(session) == before

    def test_a_reply_to_a_dispute_is_linked_both_ways(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        own = world["own"]
        dispute = make_assessment(session, own, by=world["member"], at=utcnow(), verdict="disputes")
        sign_in(web, world["officer"])
        page = web.get(f"/commitments/{own.id}")
        assert f'<option value="{dispute.id}"' in page.text
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        r = web.post(
            f"/commitments/{own.id}/status-updates",
            data=update_form(token, in_reply_to_assessment_id=str(dispute.id)),
        )
        assert r.status_code == 303
        shown = web.get(f"/commitments/{own.id}").text
        assert f'href="#assessment-{dispute.id}"' in shown
        assert 'href="#update-' in shown


class TestAssessmentForm:
    def test_member_posts_an_assessment(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        own = world["own"]
        token, before = ready(web, session, world["member"], own.id)
        r = web.post(
            f"/commitments/{own.id}/assessments",
            data={"csrf_token": token, "verdict": "disputes", "assessed_status": "stalled",
                  "rationale": "No regulations exist", "evidence_url": [""],
                  "evidence_title": [""]},
        )  # fmt: skip
        assert r.status_code == 303
        assert "#assessment-" in r.headers["location"]
        assert counts(session) == (before[0], before[1] + 1, before[2] + 1)
        assert last_event(session).action == "assessment.posted"
        shown = web.get(f"/commitments/{own.id}").text
        assert "No regulations exist" in shown
        assert "Contested" in shown

    def test_an_officer_gets_no_assessment_form_and_is_refused(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        sign_in(web, world["officer"])
        own = world["own"]
        page = web.get(f"/commitments/{own.id}")
        assert "Post the alliance" not in page.text
        token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        before = counts(session)
        r = web.post(
            f"/commitments/{own.id}/assessments",
            data={"csrf_token": token, "verdict": "agrees", "assessed_status": "completed",
                  "rationale": "Fine"},
        )  # fmt: skip
        assert r.status_code == 403
        assert counts(session) == before

    def test_missing_verdict_rerenders(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        own = world["own"]
        token, before = ready(web, session, world["secretariat"], own.id)
        r = web.post(
            f"/commitments/{own.id}/assessments",
            data={"csrf_token": token, "verdict": "", "assessed_status": "stalled",
                  "rationale": "Typed text"},
        )  # fmt: skip
        assert r.status_code == 422
        assert 'id="a-verdict-error"' in r.text
        assert "Typed text" in r.text
        assert counts(session) == before


class TestPages:
    def test_anonymous_is_sent_to_sign_in(self, web: TestClient) -> None:
        for path in (
            "/",
            "/commitments",
            "/my",
            "/audit",
            "/ministries/1",
            "/reports/commitments.csv",
        ):
            r = web.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next=")

    def test_every_page_answers_with_the_security_headers(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        sign_in(web, world["secretariat"])
        for path in ("/", "/commitments", f"/commitments/{world['own'].id}",
                     f"/ministries/{world['mine'].id}", "/my", "/audit", "/login",
                     "/static/web.css", "/commitments/999999"):  # fmt: skip
            r = web.get(path)
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "same-origin"
            assert r.headers["x-frame-options"] == "DENY"
        assert web.get("/commitments/999999").status_code == 404

    def test_no_inline_script_or_style_anywhere(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        sign_in(web, world["secretariat"])
        for path in ("/", "/commitments", f"/commitments/{world['own'].id}", "/audit"):
            html = web.get(path).text
            assert "<script" not in html
            assert "style=" not in html
            assert "<style" not in html
            assert re.search(r"\son[a-z]+=", html) is None

    def test_user_text_is_escaped(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        evil = make_commitment(
            session, lead=world["mine"], title="<script>alert('x')</script>",
            description='"><img src=x onerror=alert(1)>',
        )  # fmt: skip
        sign_in(web, world["officer"])
        for path in (f"/commitments/{evil.id}", "/commitments", "/my"):
            html = web.get(path).text
            assert "<script>alert" not in html
            assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
        assert "<img src=x" not in web.get(f"/commitments/{evil.id}").text

    def test_evidence_links_carry_rel(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        make_assessment(
            session, world["own"], by=world["member"], at=utcnow(),
            evidence=[{"url": "https://example.org/report", "title": "Shadow report"}],
        )  # fmt: skip
        sign_in(web, world["viewer"])
        html = web.get(f"/commitments/{world['own'].id}").text
        assert '<a href="https://example.org/report" rel="noopener noreferrer nofollow">' in html

    def test_audit_page_for_secretariat_and_members_only(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        record_created(session, world["mine"], world["other"], world["own"], world["foreign"])
        sign_in(web, world["member"])
        r = web.get("/audit")
        assert r.status_code == 200
        assert "The chain verifies" in r.text
        head = web.get("/v1/audit/verify")  # the API needs a token: only the page shows it here
        assert head.status_code == 401
        web.cookies.clear()
        sign_in(web, world["officer"])
        assert web.get("/audit").status_code == 403

    def test_desk_lists_the_officers_commitments_contested_first(
        self, web: TestClient, world: dict[str, Any], session: Session
    ) -> None:
        calm = world["own"]
        hot = make_commitment(session, lead=world["other"], supporting=[world["mine"]])
        make_assessment(session, hot, by=world["member"], at=utcnow(), verdict="disputes")
        sign_in(web, world["officer"])
        html = web.get("/my").text
        assert html.index(hot.code) < html.index(calm.code)
        assert world["foreign"].code not in html

    def test_language_from_query_then_session_then_header(
        self, web: TestClient, world: dict[str, Any]
    ) -> None:
        assert '<html lang="sw">' in web.get("/login", headers={"Accept-Language": "sw-KE"}).text
        assert (
            '<html lang="en">' in web.get("/login?lang=en", headers={"Accept-Language": "sw"}).text
        )
        # ?lang= is remembered in the session
        assert '<html lang="en">' in web.get("/login", headers={"Accept-Language": "sw"}).text
        sign_in(web, world["member"])
        assert '<html lang="sw">' in web.get("/?lang=sw").text
        assert '<html lang="sw">' in web.get("/commitments").text

    def test_public_read_opens_the_scorecard_only(
        self, client: TestClient, world: dict[str, Any], engine: Any
    ) -> None:
        del world
        from vpitracker.main import create_app

        app = create_app(test_settings(public_read=True), engine=engine)
        app.dependency_overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as anon:
            assert anon.get("/").status_code == 200
            assert anon.get("/reports/commitments.csv").status_code == 200
            assert anon.get("/my").status_code == 303

    def test_audit_page_shows_the_signed_checkpoint_or_says_there_is_none(
        self, web: TestClient, client: TestClient, world: dict[str, Any], engine: Any,
        settings: Settings, session: Session,
    ) -> None:  # fmt: skip
        from vpitracker.main import create_app

        record_created(session, world["mine"], world["other"], world["own"], world["foreign"])
        sign_in(web, world["member"])
        html = web.get("/audit").text
        assert f'<pre class="note">{settings.log_origin}\n' in html
        assert f"\u2014 {settings.log_origin} " in html  # the note's signature line
        app = create_app(test_settings(log_signing_key=None), engine=engine)
        app.dependency_overrides = client.app.dependency_overrides  # type: ignore[attr-defined]
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as keyless:
            sign_in(keyless, world["member"])
            html = keyless.get("/audit").text
        assert "No signing key is set up" in html
        assert "The chain verifies" in html

    def test_pages_are_not_in_the_openapi_document(self) -> None:
        doc = render()
        for path in ('"/login"', '"/commitments"', '"/my"', '"/audit"', '"/"'):
            assert path not in doc
