"""The web pages: plain HTML forms and server-drawn charts over the API's services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from vpitracker.auth import service as auth_service
from vpitracker.deps import SessionDep, StreamOpener
from vpitracker.errors import Invalid, Throttled, Unauthorized
from vpitracker.i18n import N_
from vpitracker.kernel.actor import Actor
from vpitracker.kernel.clock import Clock
from vpitracker.kernel.filters import CommitmentFilters
from vpitracker.reporting import service as reporting_service
from vpitracker.reports import service as reports_service
from vpitracker.reports.streaming import stream as stream_report
from vpitracker.resources import IdPath, NowDep
from vpitracker.types import IsoDate
from vpitracker.vocab import (
    ASSESSOR_ROLES,
    CLUSTER_NAMES,
    REPORTER_ROLES,
    ReportedStatus,
    Role,
    Verdict,
)
from vpitracker.web import charts, forms, views
from vpitracker.web import session as cookies
from vpitracker.web.pages import Page, PageDep, PageError, PageRoute, redirect, render, secure

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MULTI = frozenset({"evidence_url", "evidence_title"})
_as_of = TypeAdapter(IsoDate)


async def form_fields(request: Request) -> dict[str, Any]:
    """The posted form, each field a string (evidence rows: lists of strings)."""
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values if key in MULTI else (values[0] if values else "")
    return out


FormFields = Annotated[dict[str, Any], Depends(form_fields)]


def _check_csrf(page: Page, fields: dict[str, Any]) -> None:
    """Before anything else a POST does: no valid token, nothing happens."""
    if not cookies.csrf_ok(page.settings, page.state, fields.get("csrf_token")):
        raise PageError(
            403,
            N_("This form has expired"),
            N_("Reload the page and send the form again."),
        )


def _parse_as_of(raw: str | None) -> tuple[date | None, str | None]:
    if not raw:
        return None, None
    try:
        return _as_of.validate_python(raw), None
    except ValidationError:
        return None, N_("Enter a date as YYYY-MM-DD")


def _safe_next(target: str | None) -> str:
    # Only a path on this server: never an open redirect to another site.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
def login_form(page: PageDep, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(page, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login")
def login(request: Request, page: PageDep, session: SessionDep, fields: FormFields) -> Response:
    """Sign in with the same accounts, password rules and throttle as POST /v1/auth/token."""
    _check_csrf(page, fields)
    username = str(fields.get("username", ""))[:320]
    target = _safe_next(fields.get("next"))
    address = request.client.host if request.client else "unknown"
    try:
        user = auth_service.check_password(
            session, page.settings, email=username,
            password=str(fields.get("password", ""))[:200], address=address,
        )  # fmt: skip
    except Throttled as exc:
        response = render(
            page, "login.html", status=429, next=target, username=username,
            error=N_("Too many failed sign-ins; try again later."),
        )  # fmt: skip
        response.headers.update(exc.headers)
        return response
    except Unauthorized:
        return render(
            page, "login.html", status=401, next=target, username=username,
            error=N_("Incorrect email or password."),
        )  # fmt: skip
    assert user.id is not None
    page.state, page.cookie_changed = page.state.signed_in(user.id, user.credential_version), True
    return redirect(page, target)


@router.get("/logout")
def logout_form(page: PageDep) -> Response:
    """Asks to confirm signing out (a link must not sign anyone out)."""
    return render(page, "logout.html")


@router.post("/logout")
def logout(page: PageDep, fields: FormFields) -> Response:
    """End the session."""
    _check_csrf(page, fields)
    page.state, page.cookie_changed = cookies.PageSession.anonymous(page.state.lang), True
    return redirect(page, "/login")


@router.get("/")
def scorecard(
    page: PageDep, session: SessionDep, now: NowDep, as_of: str | None = None
) -> Response:
    """The scorecard: headline figures, status chart, per-ministry bars, timeline."""
    page.require_reader()
    day, error = _parse_as_of(as_of)
    data = views.scorecard(session, now.on(day), page.lang)
    return render(
        page, "scorecard.html", as_of=day, as_of_raw=as_of or "", as_of_error=error,
        cluster_names=CLUSTER_NAMES, **data,
    )  # fmt: skip


def _bool(raw: str | None) -> bool | None:
    return {"true": True, "false": False}.get(raw or "")


def _int(raw: str | None, low: int, high: int) -> int | None:
    if raw and raw.isdigit() and low <= int(raw) <= high:
        return int(raw)
    return None


@router.get("/commitments")
def commitments(
    request: Request, page: PageDep, session: SessionDep, now: NowDep, cursor: str | None = None
) -> Response:
    """Commitments with their derived state; filters are GET parameters."""
    page.require_reader()
    q = request.query_params
    status = q.get("reported_status")
    filters = CommitmentFilters(
        q=(q.get("q") or None) and q["q"][:200],
        ministry_id=_int(q.get("ministry_id"), 1, 2**31 - 1),
        reported_status=status if status in set(ReportedStatus) else None,
        overdue=_bool(q.get("overdue")),
        contested=_bool(q.get("contested")),
        stale=_bool(q.get("stale")),
        cluster=_int(q.get("cluster"), 1, 4),
    )
    day, error = _parse_as_of(q.get("as_of"))
    items, next_cursor = views.commitments_page(session, now.on(day), filters, cursor)
    return render(
        page, "commitments.html", items=items, next_cursor=next_cursor, filters=filters,
        ministries=views.ministry_names(session), statuses=list(ReportedStatus),
        cluster_names=CLUSTER_NAMES, as_of=day, as_of_error=error,
    )  # fmt: skip


def _commitment_page(
    page: Page,
    session: Session,
    now: Clock,
    commitment_id: int,
    *,
    status: int = 200,
    update_form: forms.FormState | None = None,
    assessment_form: forms.FormState | None = None,
) -> Response:
    actor = page.require_user()
    view = views.commitment_detail(session, now, commitment_id, actor)
    return render(
        page, "commitment.html", status=status, v=view, c=view.commitment,
        update_form=update_form or forms.FormState(), statuses=list(ReportedStatus),
        assessment_form=assessment_form or forms.FormState(), verdicts=list(Verdict),
        evidence_rows=forms.EVIDENCE_ROWS, posted=page.request.query_params.get("posted"),
    )  # fmt: skip


@router.get("/commitments/{commitment_id}")
def commitment(commitment_id: IdPath, page: PageDep, session: SessionDep, now: NowDep) -> Response:
    """One commitment: what was promised, and the government's and alliance's voices."""
    return _commitment_page(page, session, now, commitment_id)


Body = TypeVar("Body")


class Posted(Protocol):
    """What a form's post returns: the new record, whose id the redirect names."""

    @property
    def id(self) -> int | None: ...


def _post_form(
    page: Page,
    session: Session,
    now: Clock,
    commitment_id: int,
    parsed: tuple[Body | None, forms.FormState],
    post: Callable[[Body], Posted],
    kind: str,
) -> Response:
    """Post a parsed form through the service; an invalid one comes back with its errors."""
    body, state = parsed
    if body is not None:
        try:
            record = post(body)
        except Invalid as exc:
            session.rollback()
            forms.invalid_into(state, exc)
        else:
            return redirect(page, f"/commitments/{commitment_id}?posted={kind}#{kind}-{record.id}")
    return _commitment_page(
        page, session, now, commitment_id, status=422, **{f"{kind}_form": state}
    )


@router.post("/commitments/{commitment_id}/status-updates")
def post_status_update(
    commitment_id: IdPath, page: PageDep, session: SessionDep, now: NowDep, fields: FormFields
) -> Response:
    """The update form: the same service, rules and audit event as the API."""
    _check_csrf(page, fields)
    actor = page.require_role(REPORTER_ROLES)
    return _post_form(
        page, session, now, commitment_id, forms.status_update(fields),
        lambda body: reporting_service.post_update(session, actor, commitment_id, body),
        "update",
    )  # fmt: skip


@router.post("/commitments/{commitment_id}/assessments")
def post_assessment(
    commitment_id: IdPath, page: PageDep, session: SessionDep, now: NowDep, fields: FormFields
) -> Response:
    """The assessment form (members and the secretariat)."""
    _check_csrf(page, fields)
    actor = page.require_role(ASSESSOR_ROLES)
    return _post_form(
        page, session, now, commitment_id, forms.assessment(fields),
        lambda body: reporting_service.post_assessment(session, actor, commitment_id, body),
        "assessment",
    )  # fmt: skip


@router.get("/ministries/{ministry_id}")
def ministry(
    ministry_id: IdPath, page: PageDep, session: SessionDep, now: NowDep, cursor: str | None = None
) -> Response:
    """A ministry's scorecard row and its commitments."""
    page.require_reader()
    found, row, items, next_cursor = views.ministry_page(session, now, ministry_id, cursor)
    return render(
        page, "ministry.html", ministry=found, row=row, items=items, next_cursor=next_cursor,
        bar=charts.progress_bar(row) if row else [], ministries=views.ministry_names(session),
    )  # fmt: skip


@router.get("/my")
def desk(page: PageDep, session: SessionDep, now: NowDep) -> Response:
    """The officer's desk: their ministries' commitments, what needs an answer first."""
    actor = page.require_user()
    items = views.desk(session, now, actor) if actor.ministry_ids else []
    return render(
        page, "my.html", items=items, ministries=views.ministry_names(session),
        is_officer=actor.role is Role.government_officer,
    )  # fmt: skip


@router.get("/reports/{name}.csv")
def report_csv(
    request: Request,
    name: Literal["commitments", "recommendations", "status-history"],
    page: PageDep,
    opener: StreamOpener,
    now: NowDep,
    as_of: str | None = None,
) -> Response:
    """The CSV reports for a signed-in browser (the API takes no page cookie)."""
    page.require_reader()
    clock = now.on(_parse_as_of(as_of)[0])
    reports: dict[str, Callable[[str], reports_service.Report]] = {
        "commitments": lambda d: reports_service.commitments(d, clock, CommitmentFilters()),
        "recommendations": lambda d: reports_service.recommendations(d, clock),
        "status-history": lambda d: reports_service.status_history(clock, dialect=d),
    }
    actor = page.actor or Actor(kind="anonymous", id=0, role=Role.viewer)
    # The API's own streaming, per-caller slots and CSV writer.
    response: Response = stream_report(request, actor, opener, reports[name], True)
    return secure(response)


@router.get("/audit")
def audit(page: PageDep, session: SessionDep) -> Response:
    """The audit chain's head to copy into minutes, and whether the chain verifies."""
    page.require_role(ASSESSOR_ROLES)
    result, checkpoint = views.audit_page(session, page.settings)
    return render(page, "audit.html", result=result, checkpoint=checkpoint)
