"""One signed webhook attempt over HTTP: bounded in time and size, no redirects."""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
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
    refused: bool = False

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
        return "refused" if self.refused else "network_error"


def headers(secret: str, msg_id: str, body: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": "vpitracker-webhooks",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, msg_id, timestamp, body),
    }


class PinnedBackend(httpcore.SyncBackend):
    """Resolves each host once per connection, checks every address, connects to those.

    httpx would otherwise resolve the name again when connecting, after the check
    (a DNS rebinding window). The request keeps the URL's host: the ``Host`` header,
    TLS SNI and the certificate check are all for the name, not the address.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in addresses.resolve(host, port, self.settings):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over ``PinnedBackend`` (httpx takes no network backend itself)."""

    def __init__(self, settings: Settings, *, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=PinnedBackend(settings),
        )


def client(settings: Settings, *, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """One client per worker (its TLS context is costly to build): no redirects, no proxies."""
    return httpx.Client(
        transport=PinnedTransport(settings, verify=verify),
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

    def done(status: int | None, error: str | None, *, refused: bool = False) -> Outcome:
        return Outcome(status, error, time.monotonic() - started, refused)

    try:
        # DNS can change between creation and delivery: the transport checks the
        # addresses at every connection, and connects to the ones it checked.
        addresses.check_url(url, settings)
        with http.stream(
            "POST", url, content=body.encode("utf-8"), headers=headers(secret, msg_id, body)
        ) as answer:
            read = 0
            for chunk in answer.iter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_BYTES or time.monotonic() - started > limit:
                    break
            return done(answer.status_code, None)
    except addresses.AddressRefused as exc:
        return done(None, str(exc), refused=True)
    except httpx.TimeoutException:
        return done(None, f"no answer within {limit:g} s")
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: {str(exc)[:200]}")
