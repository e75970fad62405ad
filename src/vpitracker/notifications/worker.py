"""The background worker: fan out the outbox, deliver webhooks and mail, notice time.

Every step claims its rows in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's single writer serializes) and leases what it works on, so
any number of workers share the work and no attempt is ever made twice at once.
Network calls run outside any transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from vpitracker.config import Settings
from vpitracker.db import unit_of_work
from vpitracker.models import OutboxEvent, WebhookDelivery, WebhookSubscription, utcnow
from vpitracker.notifications import (
    delivery,
    digest,
    mail,
    metrics,
    repository,
    signing,
    transitions,
    webhooks,
)
from vpitracker.notifications.webhooks import event_id
from vpitracker.outbox.events import parse_list

logger = logging.getLogger("vpitracker.notifications")

DISPATCH_LOCK = 0x5650_4901
SCAN_EVERY = timedelta(hours=1)
BATCH = 200
# Deliveries sent to one subscription per lease, before others get a turn.
PER_LEASE = 50
# Subscriptions delivered to at once by one worker.
THREADS = 8


def _matches(sub: WebhookSubscription, event: OutboxEvent) -> bool:
    if event.type not in parse_list(sub.events):
        return False
    wanted = set(parse_list(sub.ministry_ids))
    return not wanted or bool(wanted & set(parse_list(event.ministry_ids)))


class Worker:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="vpi-webhook")
        self.http = delivery.client(settings)
        self.inflight: set[Future[int]] = set()
        # A subscription stays leased this long; a worker that dies frees it after that.
        self.lease_seconds = settings.webhook_timeout_seconds * 3 + 30
        self.last_scan: datetime | None = None

    def close(self) -> None:
        self.settle()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.http.close()

    def dispatch(self) -> int:
        """Turn new outbox events into deliveries (and mail); returns how many."""
        with unit_of_work(self.engine) as session:
            # One dispatcher at a time keeps deliveries in audit order across workers.
            if not repository.try_lock(session, DISPATCH_LOCK):
                return 0
            events = repository.claim_outbox(session, limit=BATCH)
            if not events:
                return 0
            subs = repository.active_subscriptions(session)
            now = utcnow()
            for event in events:
                assert event.id is not None
                for sub in subs:
                    if event.subscription_id is None and _matches(sub, event):
                        assert sub.id is not None
                        session.add(
                            WebhookDelivery(
                                subscription_id=sub.id,
                                outbox_event_id=event.id,
                                type=event.type,
                                next_attempt_at=now,
                            )
                        )
                mail.for_event(session, self.settings, event)
                event.dispatched_at = now
            return len(events)

    def deliver_webhooks(self) -> int:
        """Start delivering to the subscriptions that have work, without waiting for them:
        a receiver that hangs holds one thread, never the worker's next pass."""
        free = THREADS - len(self.inflight)
        if free <= 0:
            return 0
        now = utcnow()
        lease = now + timedelta(seconds=self.lease_seconds)
        with unit_of_work(self.engine) as session:
            ids = repository.claim_subscriptions(session, now=now, lease_until=lease, limit=free)
        for subscription_id in ids:
            future = self.pool.submit(self._deliver_subscription, subscription_id)
            self.inflight.add(future)
            future.add_done_callback(self.inflight.discard)
        return len(ids)

    def settle(self, timeout: float | None = None) -> None:
        """Wait for the deliveries in flight (``worker --once``, shutdown, tests)."""
        wait(list(self.inflight), timeout=timeout)

    def _deliver_subscription(self, subscription_id: int) -> int:
        sent = 0
        started = time.monotonic()
        # Stop early enough that the last attempt ends well inside the lease.
        budget = self.lease_seconds - 2 * self.settings.webhook_timeout_seconds - 15
        try:
            while (
                sent < PER_LEASE
                and time.monotonic() - started < budget
                and self._deliver_head(subscription_id)
            ):
                sent += 1
        except Exception:
            logger.exception(
                "webhook delivery failed", extra={"fields": {"subscription_id": subscription_id}}
            )
        finally:
            with unit_of_work(self.engine) as session:
                repository.release(session, subscription_id)
        return sent

    def _deliver_head(self, subscription_id: int) -> bool:
        """Attempt the subscription's oldest pending delivery; True when it succeeded."""
        with unit_of_work(self.engine, write=False) as session:
            sub = session.get(WebhookSubscription, subscription_id)
            head = repository.head_delivery(session, subscription_id)
            if sub is None or not sub.active or head is None or head.next_attempt_at > utcnow():
                return False
            event = session.get(OutboxEvent, head.outbox_event_id)
            assert event is not None
            assert head.id is not None
            url, delivery_id, body = sub.url, head.id, event.body
            secret = signing.decrypt(self.settings.secret_key, sub.secret_encrypted)
        msg_id = event_id(head.outbox_event_id)
        outcome = delivery.attempt(self.http, self.settings, url, secret, msg_id, body)
        try:
            with unit_of_work(self.engine) as session:
                row = session.get(WebhookDelivery, delivery_id)
                sub = session.get(WebhookSubscription, subscription_id)
                if row is None or sub is None:
                    return False  # deleted meanwhile: nothing left to record
                self._record(session, sub, row, outcome)
        finally:
            # Counted once its outcome is committed (or could not be), so a scrape never
            # sees a delivery counted while the outbox depth still holds it.
            metrics.ATTEMPTS.labels(outcome.label).inc()
            metrics.LATENCY.observe(outcome.seconds)
        logger.info(
            "webhook attempt",
            extra={
                "fields": {
                    "subscription_id": subscription_id,
                    "delivery_id": delivery_id,
                    "webhook_id": msg_id,
                    "type": row.type,
                    "attempt": row.attempts,
                    "outcome": outcome.label,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "duration_ms": round(outcome.seconds * 1000, 1),
                }
            },
        )
        return outcome.ok

    def _record(
        self,
        session: Session,
        sub: WebhookSubscription,
        row: WebhookDelivery,
        outcome: delivery.Outcome,
    ) -> None:
        now = utcnow()
        row.attempts += 1
        row.last_status_code = outcome.status_code
        row.last_error = outcome.error
        if outcome.ok:
            row.delivered_at = now
            sub.failure_count = 0
            return
        sub.failure_count += 1
        if outcome.gone:
            self._disable(session, sub, "the receiver answered 410 Gone")
            return
        delay = delivery.retry_delay(self.settings, row.attempts)
        if delay is None:
            row.failed_at = now
            self._disable(
                session,
                sub,
                f"delivery {row.id} failed {row.attempts} times over the retry schedule "
                f"(last: {outcome.error or outcome.status_code})",
            )
            return
        row.next_attempt_at = now + timedelta(seconds=delay)

    def _disable(self, session: Session, sub: WebhookSubscription, reason: str) -> None:
        webhooks.disable(session, sub, reason)
        mail.subscription_disabled(session, self.settings, sub)

    def run_once(self) -> int:
        """One pass over every kind of work; returns how much was done."""
        now = utcnow()
        if self.last_scan is None or now - self.last_scan >= SCAN_EVERY:
            transitions.scan(self.engine, self.settings)
            self.last_scan = now
        done = self.dispatch()
        done += self.deliver_webhooks()
        done += digest.queue_weekly(self.engine, self.settings)
        done += mail.deliver(self.engine, self.settings)
        return done

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; a failing pass is logged and retried next interval."""
        try:
            while not stop.is_set():
                try:
                    busy = self.run_once()
                except Exception:
                    logger.exception("worker pass failed")
                    busy = 0
                if not busy:
                    stop.wait(self.settings.worker_interval_seconds)
        finally:
            self.close()


def start_background(
    engine: Engine, settings: Settings
) -> tuple[threading.Thread, threading.Event]:
    """The worker on a daemon thread of this process (what ``vpitracker serve`` runs)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=Worker(engine, settings).run, args=(stop,), name="vpi-worker", daemon=True
    )
    thread.start()
    return thread, stop
