"""One signed webhook attempt over HTTP: bounded in time and size, no redirects."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import httpx

from vpitracker.config import Settings
from vpitracker.notifications import addresses, signing

# Receivers answer with a status; whatever body they send beyond this is not read.
MAX_ANSWER_BYTES = 64 * 1024


def retry_delay(settings: Settings, attempts: int) -> float | None:
    """Seconds before the next attempt after ``attempts`` failures; None once it ran out."""
    schedule = settings.retry_delays
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * (1 + random.uniform(0, 0.1))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410

    @property
    def label(self) -> str:
        if self.ok:
            return "delivered"
        if self.gone:
            return "gone"
        if self.status_code is not None:
            return "http_error"
        return "refused" if self.error and self.error.startswith("url ") else "network_error"


def headers(secret: str, msg_id: str, body: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": "vpitracker-webhooks",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, msg_id, timestamp, body),
    }


def client(settings: Settings) -> httpx.Client:
    """One client per worker (its TLS context is costly to build): no redirects, no proxies."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
    )


def attempt(
    http: httpx.Client, settings: Settings, url: str, secret: str, msg_id: str, body: str
) -> Outcome:
    """POST ``body`` once; never raises for anything the receiver or the network does."""
    started = time.monotonic()
    limit = settings.webhook_timeout_seconds

    def done(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, error, time.monotonic() - started)

    try:
        # DNS can change between creation and delivery: check the address every time.
        addresses.check(url, settings)
    except addresses.AddressRefused as exc:
        return done(None, str(exc))
    try:
        with http.stream(
            "POST", url, content=body.encode("utf-8"), headers=headers(secret, msg_id, body)
        ) as answer:
            read = 0
            for chunk in answer.iter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES or time.monotonic() - started > limit:
                    break
            return done(answer.status_code, None)
    except httpx.TimeoutException:
        return done(None, f"no answer within {limit:g} s")
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: {str(exc)[:200]}")
