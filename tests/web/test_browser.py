"""The pages in a real browser (Debian's chromium through Playwright) against a real server.

One server (the demo loaded) and one browser for the module; each test opens its
own browser context. Screenshots of every page at 360 and 1280 px are kept in
``tests/artifacts/`` for a reviewer. Under CI a browser that cannot start fails
the run; it never skips.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    expect,
    sync_playwright,
)

from tests.conftest import scratch_database
from tests.live import LiveServer, cli, serve, server_env
from vpitracker import demo

pytestmark = pytest.mark.server

CHROMIUM = "/usr/bin/chromium"
PROGRESS = "Progress (0\u2013100%)"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SCORECARD_PNG = Path(__file__).resolve().parents[2] / "docs" / "scorecard.png"
SECRETARIAT = next(u["email"] for u in demo.scenario()["users"] if u["role"] == "secretariat")
MEMBER = next(u["email"] for u in demo.scenario()["users"] if u["role"] == "alliance_member")
# Reports for CTIPS only: it leads commitments and is absent from others.
OFFICER = next(u["email"] for u in demo.scenario()["users"] if u.get("ministry_codes") == ["CTIPS"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with scratch_database(tmp_path_factory.mktemp("web")) as url:
        env = server_env(url)
        cli(env, "seed", "demo")
        with serve(env) as live:
            yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            message = f"chromium could not start ({CHROMIUM}): {exc}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Iterator[httpx.Client]:
    token = server.token(SECRETARIAT, demo.DEMO_PASSWORD)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def head_seq(api: httpx.Client) -> int:
    """The audit chain's head: every write moves it."""
    r = api.get("/v1/audit/verify")
    r.raise_for_status()
    return int(r.json()["head"]["seq"])


def commitment_ids(api: httpx.Client) -> tuple[int, int]:
    """One commitment the officer's ministry (CTIPS) is on, and one it is not."""
    rows = api.get("/v1/reports/commitments").json()
    own = next(r for r in rows if r["lead_ministry_code"] == "CTIPS")
    foreign = next(
        r for r in rows
        if r["lead_ministry_code"] != "CTIPS" and "CTIPS" not in r["supporting_ministry_codes"]
    )  # fmt: skip
    return int(own["id"]), int(foreign["id"])


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def sign_in(page: Page, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def open_commitment(context: BrowserContext, who: str, commitment_id: int) -> Page:
    page = context.new_page()
    sign_in(page, who)
    page.goto(f"/commitments/{commitment_id}")
    return page


def test_sign_in_and_sign_out(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/")
    assert urlsplit(page.url).path == "/login"  # not public: the scorecard needs sign-in
    sign_in(page, OFFICER, "not-the-password")
    assert page.get_by_role("alert").inner_text() == "Incorrect email or password."
    sign_in(page, OFFICER)
    assert urlsplit(page.url).path == "/"
    assert page.get_by_role("heading", level=1).inner_text() == "Scorecard"
    cookie = next(c for c in context.cookies() if c["name"] == "vpi_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is True
    page.get_by_role("button", name="Sign out").click()
    assert urlsplit(page.url).path == "/login"
    page.goto("/my")
    assert urlsplit(page.url).path == "/login"


def test_officer_posts_an_update_and_is_redirected(
    context: BrowserContext, api: httpx.Client
) -> None:
    own, _ = commitment_ids(api)
    page = open_commitment(context, OFFICER, own)
    before = head_seq(api)
    page.get_by_label("Status", exact=True).select_option("in_progress")
    page.get_by_label(PROGRESS).fill("65")
    page.get_by_label("What has been done").fill("Browser test: county SOP training held")
    page.get_by_label("Link 1: address (https://…)").fill("https://example.org/training")
    page.get_by_label("Link 1: title").fill("Training report")
    with page.expect_navigation():
        page.get_by_role("button", name="Post the update").click()
    # POST-redirect-GET: the browser is on a GET of the commitment, a reload posts nothing.
    page.wait_for_url(re.compile(rf"/commitments/{own}\?posted=update#update-\d+$"))
    assert page.get_by_role("status").inner_text() == "Your status update was posted."
    assert head_seq(api) == before + 1
    page.reload()
    assert head_seq(api) == before + 1
    entry = page.locator(".entry.gov").first
    assert "Browser test: county SOP training held" in entry.inner_text()
    link = entry.get_by_role("link", name="Training report")
    assert link.get_attribute("rel") == "noopener noreferrer nofollow"
    latest = api.get(f"/v1/commitments/{own}/status-updates?limit=1").json()["items"][0]
    assert latest["progress_percent"] == 65
    assert latest["summary"].startswith("Browser test")


def test_officer_refused_on_another_ministrys_commitment(
    context: BrowserContext, api: httpx.Client
) -> None:
    own, foreign = commitment_ids(api)
    page = context.new_page()
    sign_in(page, OFFICER)
    page.goto(f"/commitments/{foreign}")
    assert page.get_by_role("button", name="Post the update").count() == 0
    # Aim the officer's own, valid form at the other ministry's commitment.
    page.goto(f"/commitments/{own}")
    form = page.locator(f"form[action='/commitments/{own}/status-updates']")
    form.evaluate(f"f => f.action = '/commitments/{foreign}/status-updates'")
    page.get_by_label("What has been done").fill("Not mine to report")
    before = head_seq(api)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Post the update").click()
    assert nav.value is not None
    assert nav.value.status == 403
    assert "None of your ministries" in page.locator("main").inner_text()
    assert head_seq(api) == before


def test_csrf_refusal_writes_nothing(context: BrowserContext, api: httpx.Client) -> None:
    own, _ = commitment_ids(api)
    page = open_commitment(context, OFFICER, own)
    page.locator("form[action$='/status-updates'] input[name=csrf_token]").evaluate(
        "i => i.value = 'f'.repeat(64)"
    )
    page.get_by_label("What has been done").fill("Forged")
    before = head_seq(api)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Post the update").click()
    assert nav.value is not None
    assert nav.value.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "This form has expired"
    assert head_seq(api) == before


def test_invalid_form_rerenders_with_errors_and_writes_nothing(
    context: BrowserContext, api: httpx.Client
) -> None:
    own, _ = commitment_ids(api)
    page = open_commitment(context, OFFICER, own)
    page.get_by_label(PROGRESS).fill("150")
    page.get_by_label("What has been done").fill("Typed <text> is kept")
    before = head_seq(api)
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Post the update").click()
    assert nav.value is not None
    assert nav.value.status == 422
    field = page.get_by_label(PROGRESS)
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator("#" + str(field.get_attribute("aria-describedby")))
    assert "less than or equal to 100" in error.inner_text()
    assert page.get_by_label("What has been done").input_value() == "Typed <text> is kept"
    assert head_seq(api) == before


def test_member_posts_an_assessment(context: BrowserContext, api: httpx.Client) -> None:
    own, _ = commitment_ids(api)
    page = open_commitment(context, MEMBER, own)
    assert page.get_by_role("button", name="Post the update").count() == 0
    before = head_seq(api)
    page.get_by_label("Verdict").select_option("disputes")
    page.get_by_label("The status as the alliance sees it").select_option("stalled")
    page.get_by_label("Rationale").fill("Browser test: no trained officers in Kwale")
    with page.expect_navigation():
        page.get_by_role("button", name="Post the assessment").click()
    page.wait_for_url(re.compile(r"posted=assessment#assessment-\d+$"))
    assert head_seq(api) == before + 1
    newest = page.locator(".timeline .entry").first
    expect(newest).to_have_class(re.compile(r"\bdispute\b"))
    expect(newest).to_contain_text("Browser test: no trained officers in Kwale")


def test_everything_works_with_javascript_disabled(
    browser: Browser, server: LiveServer, api: httpx.Client
) -> None:
    own, _ = commitment_ids(api)
    ctx = browser.new_context(base_url=server.url, java_script_enabled=False)
    try:
        page = ctx.new_page()
        sign_in(page, OFFICER)
        page.goto("/?as_of=2025-06-30")
        assert "as of 2025-06-30" in page.locator("main").inner_text()
        page.goto("/commitments?overdue=true")
        page.get_by_label("Reported status").select_option("in_progress")
        page.get_by_role("button", name="Filter").click()
        assert "reported_status=in_progress" in page.url
        assert "overdue=true" in page.url
        page.goto(f"/commitments/{own}")
        before = head_seq(api)
        page.get_by_label(PROGRESS).fill("70")
        page.get_by_label("What has been done").fill("Posted with JavaScript off")
        page.get_by_role("button", name="Post the update").click()
        assert "posted=update" in page.url
        assert head_seq(api) == before + 1
    finally:
        ctx.close()


def test_user_text_is_shown_as_text(context: BrowserContext, api: httpx.Client) -> None:
    ministry = api.get("/v1/ministries?limit=1").json()["items"][0]["id"]
    created = api.post(
        "/v1/commitments",
        json={"code": "GOK-XSS", "title": "<script>alert('x')</script> title",
              "description": "<img src=x onerror=alert(1)>", "lead_ministry_id": ministry,
              "due_date": "2030-01-01", "indicator": "<b>bold?</b>"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    page = context.new_page()
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, SECRETARIAT)
    page.goto(f"/commitments/{created.json()['id']}")
    assert "<script>alert('x')</script> title" in page.get_by_role("heading", level=1).inner_text()
    assert "<img src=x onerror=alert(1)>" in page.locator("main").inner_text()
    assert page.locator("main script, main img, main b").count() == 0
    page.goto("/commitments?q=GOK-XSS")
    assert "<script>alert('x')</script>" in page.locator("table").inner_text()
    assert dialogs == []


def _signed_in_pages(api: httpx.Client) -> dict[str, str]:
    own, _ = commitment_ids(api)
    ministry = api.get("/v1/ministries?q=CTIPS").json()["items"][0]["id"]
    return {
        "scorecard": "/",
        "commitments": "/commitments",
        "commitment": f"/commitments/{own}",
        "ministry": f"/ministries/{ministry}",
        "desk": "/my",
        "audit": "/audit",
    }


def _each_page(
    browser: Browser, server: LiveServer, api: httpx.Client, width: int,
    visit: Callable[[str, Page, Any], None], **options: Any,
) -> None:  # fmt: skip
    """Visit the sign-in page, then every signed-in page, as the secretariat and an officer."""
    for who in (SECRETARIAT, OFFICER):
        ctx = browser.new_context(
            base_url=server.url, viewport={"width": width, "height": 800}, **options
        )
        try:
            page = ctx.new_page()
            response = page.goto("/login")
            visit(f"login-{who.split('.')[0]}", page, response)
            sign_in(page, who)
            for name, path in _signed_in_pages(api).items():
                if name == "audit" and who == OFFICER:
                    continue
                response = page.goto(path)
                assert response is not None, path
                assert response.status == 200, path
                visit(f"{name}-{who.split('.')[0]}", page, response)
        finally:
            ctx.close()


def test_no_request_leaves_the_server(
    browser: Browser, server: LiveServer, api: httpx.Client
) -> None:
    origin = server.url
    seen: list[str] = []
    elsewhere: list[str] = []

    def count(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        if not url.startswith(origin + "/"):
            elsewhere.append(url)
            route.abort()
        else:
            route.continue_()

    ctx = browser.new_context(base_url=server.url)
    try:
        ctx.route("**/*", count)
        page = ctx.new_page()
        sign_in(page, SECRETARIAT)
        for path in _signed_in_pages(api).values():
            page.goto(path)
            page.wait_for_load_state("networkidle")
    finally:
        ctx.close()
    assert any(url.endswith("/static/web.css") for url in seen)
    assert len(seen) >= 8
    assert elsewhere == []


def test_360px_wide_no_sideways_scrolling_no_serious_axe_violation(
    browser: Browser, server: LiveServer, api: httpx.Client
) -> None:
    """At a phone's width (where tables scroll inside their regions): layout and axe-core."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    too_wide: dict[str, int] = {}
    violations: dict[str, list[str]] = {}

    def visit(name: str, page: Page, _response: Any) -> None:
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        if width > 360:
            too_wide[name] = width
        page.screenshot(path=ARTIFACTS / f"{name}-360.png", full_page=True)
        results = axe.run(page)
        assert results.response["testEngine"]["name"] == "axe-core"
        bad = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}x)"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            violations[name] = bad

    # The checker itself finds what it must: an unlabelled field is a critical violation.
    probe = browser.new_page()
    probe.set_content('<!doctype html><html lang="en"><title>t</title><main><input></main>')
    assert "label" in {v["id"] for v in axe.run(probe).response["violations"]}
    probe.close()
    # axe-core is injected as a script, which the pages' CSP forbids: bypassed only here.
    _each_page(browser, server, api, 360, visit, bypass_csp=True)
    assert too_wide == {}
    assert violations == {}


def test_headers_and_1280px_screenshots(
    browser: Browser, server: LiveServer, api: httpx.Client
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def visit(name: str, page: Page, response: Any) -> None:
        headers = response.all_headers()
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp, name
        assert "script-src 'none'" in csp, name
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in csp
        page.screenshot(path=ARTIFACTS / f"{name}-1280.png", full_page=True)
        if name == "scorecard-grace" and os.environ.get("VPI_UPDATE_SCREENSHOT"):
            page.screenshot(path=SCORECARD_PNG)

    _each_page(browser, server, api, 1280, visit)
