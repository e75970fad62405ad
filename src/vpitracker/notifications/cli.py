"""``vpitracker worker`` and ``vpitracker digest send``."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from vpitracker.config import get_settings

digest_app = typer.Typer(help="The weekly email digest.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the notification commands to the ``vpitracker`` CLI."""
    app.command("worker")(worker)
    app.add_typer(digest_app, name="digest")


def worker(
    once: Annotated[bool, typer.Option(help="One pass over the due work, then exit")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve Prometheus metrics on this port of VPI_WORKER_METRICS_HOST "
            "(default: VPI_WORKER_METRICS_PORT; unset: none)",
        ),
    ] = None,
) -> None:
    """Deliver webhooks and email and notice overdue/stale commitments (without serving)."""
    from vpitracker import migrate
    from vpitracker.db import get_engine
    from vpitracker.notifications import metrics
    from vpitracker.notifications.worker import Worker
    from vpitracker.observability import configure_logging

    configure_logging()
    settings = get_settings()
    engine = get_engine()
    migrate.upgrade(engine)
    port = metrics_port or settings.worker_metrics_port
    if port is not None and not once:
        metrics.serve_alone(engine, settings.worker_metrics_host, port)
    work = Worker(engine, settings)
    if once:
        work.run_once()
        work.close()  # waits for the deliveries in flight
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    work.run(stop)


@digest_app.command("send")
def digest_send(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digests instead of sending them")
    ] = False,
) -> None:
    """Send the weekly digests now (what the schedule does each week)."""
    from vpitracker.db import get_engine, unit_of_work
    from vpitracker.models import utcnow
    from vpitracker.notifications import digest, mail

    settings = get_settings()
    engine = get_engine()
    if not dry_run and not mail.enabled(settings):
        typer.echo("error: VPI_SMTP_URL is not set; nothing can be sent", err=True)
        raise typer.Exit(1)
    with unit_of_work(engine, write=not dry_run) as session:
        messages = digest.build(session, settings, utcnow())
        if dry_run:
            for m in messages:
                typer.echo(f"To: {m.to_address}\nSubject: {m.subject}\n\n{m.text_body}\n")
            typer.echo(f"{len(messages)} digest(s) would be sent")
            return
        session.add_all(messages)
    sent = 0
    while True:
        batch = mail.deliver(engine, settings)
        if not batch:
            break
        sent += batch
    typer.echo(f"{sent} of {len(messages)} digest(s) sent")
