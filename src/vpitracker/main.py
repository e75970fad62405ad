"""Application factory."""

from __future__ import annotations

import gc
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from vpitracker import __version__, migrate, replicas
from vpitracker.apikeys.router import router as apikeys_router
from vpitracker.audit.router import changes_router
from vpitracker.audit.router import router as audit_router
from vpitracker.auth.router import router as auth_router
from vpitracker.commitments.router import router as commitments_router
from vpitracker.config import Settings, get_settings
from vpitracker.db import database_problem, make_engine
from vpitracker.docs import install_offline_docs
from vpitracker.errors import (
    app_error_response,
    declare_body_errors,
    install_handlers,
    language_of,
    problem_response,
    responses,
)
from vpitracker.i18n import N_
from vpitracker.idempotency import Replay
from vpitracker.limits import RequestLimitsMiddleware
from vpitracker.ministries.router import router as ministries_router
from vpitracker.notifications import mail as notifications_mail
from vpitracker.notifications import metrics as notifications_metrics
from vpitracker.notifications.router import router as webhooks_router
from vpitracker.observability import Metrics, RequestContextMiddleware, configure_logging
from vpitracker.progress.router import router as progress_router
from vpitracker.provisions.router import router as provisions_router
from vpitracker.recommendations.router import router as recommendations_router
from vpitracker.reporting.router import router as reporting_router
from vpitracker.reports.router import router as reports_router
from vpitracker.reports.service import ReportSlots
from vpitracker.transfer.router import router as transfer_router
from vpitracker.users.router import router as users_router
from vpitracker.versioning import declare_if_match
from vpitracker.vocabulary.router import router as vocabulary_router
from vpitracker.web import pages as web_pages
from vpitracker.web.router import router as web_router

DESCRIPTION = """\
System of record for the Kenya Civil Society Alliance's oversight of the
Government's commitments under UNTOC and its Protocols: recommendations,
commitments, status updates, the alliance's assessments and a tamper-evident
audit trail. Errors are RFC 9457 problem+json.
"""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()
    app = FastAPI(
        title="vpitracker",
        version=__version__,
        description=DESCRIPTION,
        separate_input_output_schemas=False,
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.settings = settings
    lock_timeout = settings.database_lock_timeout_seconds
    app.state.engine = engine or make_engine(settings.database_url, lock_timeout=lock_timeout)
    # Dashboard reads go to a streaming replica when one is configured (replicas.py).
    app.state.read_engine = (
        make_engine(settings.read_database_url, lock_timeout=lock_timeout)
        if settings.read_database_url
        else app.state.engine
    )
    app.state.report_slots = ReportSlots(settings.report_streams_per_caller)
    install_handlers(app)

    @app.exception_handler(Replay)
    async def _replay(_request: Request, exc: Replay) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"}
        if exc.omitted:
            headers["Idempotent-Replay-Omitted"] = ", ".join(exc.omitted)
        if exc.location:
            headers["Location"] = exc.location
        return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # The transaction was rolled back on the way out; say so instead of a bare 500.
        problem = database_problem(exc, replica_read=replicas.reads_replica(request))
        return app_error_response(problem, language_of(request))

    # The probes first: every request walks the routes in order, and these paths match
    # nothing else (a probe at the end walked every router's routes first).
    @app.get("/healthz", tags=["health"], operation_id="health-live")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], operation_id="health-ready", responses=responses(503))
    def readyz(request: Request) -> Any:
        """Readiness: the database answers and its schema is at this code's migration head.

        With ``VPI_READ_DATABASE_URL``, the body also reports the read replica's state and
        lag (``read_replica``); a replica that lags or is down never fails readiness.
        """
        lang = language_of(request)
        replica = app.state.read_engine is not app.state.engine
        try:
            with app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                at_head = migrate.current_heads(conn) == migrate.expected_heads()
                primary_lsn = replicas.primary_position(conn) if replica else ""
        except Exception:
            return problem_response(
                503, "Service Unavailable", N_("The database does not answer"), lang=lang
            )
        if not at_head:
            return problem_response(
                503,
                "Service Unavailable",
                N_("The database schema is not at the migration head"),
                lang=lang,
            )
        ready: dict[str, Any] = {"status": "ready"}
        if not notifications_mail.enabled(settings):
            ready["mail"] = "SMTP is not configured (VPI_SMTP_URL): no email is sent"
        if replica:
            # Reported, never failing readiness: a replica down fails only the dashboard
            # reads it serves (503), while failing readiness would stop every write too.
            ready["read_replica"] = replicas.health(app.state.read_engine, primary_lsn)
        return ready

    metrics = Metrics()
    app.state.metrics = metrics
    notifications_metrics.install(metrics.registry, app.state.engine)

    if settings.metrics_enabled:

        @app.get(
            "/metrics", tags=["health"], operation_id="health-metrics", include_in_schema=False
        )
        def prometheus_metrics() -> Response:
            """Prometheus text format: requests and latency per route template."""
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for router in (
        auth_router,
        users_router,
        apikeys_router,
        ministries_router,
        provisions_router,
        recommendations_router,
        commitments_router,
        reporting_router,
        progress_router,
        reports_router,
        changes_router,
        audit_router,
        transfer_router,
        webhooks_router,
        web_router,
        vocabulary_router,
    ):
        app.include_router(router)
    declare_body_errors(app)
    declare_if_match(app)
    web_pages.install(app)
    app.add_middleware(RequestLimitsMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    return app


def serve_app() -> FastAPI:
    """``create_app`` for ``vpitracker serve``, its start-up objects frozen out of the GC.

    What start-up builds lives as long as the process; the collector's full (oldest
    generation) passes walked all of it again, every few requests that build many
    objects (a 2,500-row scorecard): in-process at L one such pass took longer than
    the request's SQL. Frozen, a full pass walks only what requests have made since.
    """
    app = create_app()
    gc.freeze()
    return app
