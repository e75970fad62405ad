"""Delivery connects to the address it checked (no second DNS lookup), over TLS by name."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import test_settings
from tests.notifications import receiver as receiver_module
from tests.notifications.conftest import Stack
from tests.notifications.helpers import commitment, people, subscribe
from vpitracker.notifications import addresses, delivery

HOST = "hooks.partner.test"
_real_getaddrinfo = socket.getaddrinfo


@dataclass
class Resolver:
    """Answers for test names, in turn (the last answer repeats); others resolve for real."""

    answers: dict[str, list[list[str]]]
    asked: list[str] = field(default_factory=list)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.asked.append(host)
        turns = self.answers[host]
        ips = turns.pop(0) if len(turns) > 1 else turns[0]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
            for ip in ips
        ]


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsReceiver:
    receiver: receiver_module.Receiver
    port: int
    trust: ssl.SSLContext  # what a client needs to trust the receiver's certificate


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[TlsReceiver]:
    """A receiver on 127.0.0.1 over TLS, with a certificate for ``HOST`` only."""
    cert, key = _certificate(tmp_path, HOST)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    with receiver_module.running(server) as r:
        yield TlsReceiver(r, int(r.url.rsplit(":", 1)[1]), trust)


def _send(settings: Any, url: str, trust: ssl.SSLContext) -> delivery.Outcome:
    http = delivery.client(settings, verify=trust)
    try:
        return delivery.attempt(http, settings, url, "whsec_" + "A" * 32, "msg_pin", "{}")
    finally:
        http.close()


class TestPinnedDelivery:
    def test_the_connection_goes_to_the_address_that_was_checked(
        self, monkeypatch: pytest.MonkeyPatch, tls_receiver: TlsReceiver
    ) -> None:
        # Production rules (https, public addresses only), with 127.0.0.1 standing in for
        # a public address; the name then "rebinds" to 127.0.0.2, where nothing listens.
        monkeypatch.setattr(addresses, "_public", lambda address: address == "127.0.0.1")
        resolver = Resolver({HOST: [["127.0.0.1"], ["127.0.0.2"]]})
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        settings = test_settings(webhook_allow_private=False)
        url = f"https://{HOST}:{tls_receiver.port}/pin/ok"

        outcome = _send(settings, url, tls_receiver.trust)

        assert (outcome.status_code, outcome.error) == (200, None)
        assert resolver.asked == [HOST]  # resolved once: httpx did not look it up again
        (got,) = tls_receiver.receiver.of("pin")
        assert got.headers["host"] == f"{HOST}:{tls_receiver.port}"
        # The next connection resolves anew, and 127.0.0.2 is refused before connecting.
        again = _send(settings, url, tls_receiver.trust)
        assert again.label == "refused"
        assert "loopback, private" in (again.error or "")
        assert len(tls_receiver.receiver.of("pin")) == 1

    def test_tls_checks_the_certificate_against_the_name_not_the_address(
        self, monkeypatch: pytest.MonkeyPatch, tls_receiver: TlsReceiver
    ) -> None:
        other = "other.partner.test"
        monkeypatch.setattr(
            socket, "getaddrinfo", Resolver({HOST: [["127.0.0.1"]], other: [["127.0.0.1"]]})
        )
        settings = test_settings(webhook_allow_private=True)

        wrong = _send(settings, f"https://{other}:{tls_receiver.port}/tls/ok", tls_receiver.trust)
        right = _send(settings, f"https://{HOST}:{tls_receiver.port}/tls/ok", tls_receiver.trust)

        assert wrong.label == "network_error"
        assert "CERTIFICATE_VERIFY_FAILED" in (wrong.error or "")
        assert right.status_code == 200
        assert len(tls_receiver.receiver.of("tls")) == 1


def test_an_address_that_turned_private_is_refused_at_delivery(
    stack_factory: Any, receiver: receiver_module.Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside development mode: public when the subscription is made, loopback later."""
    port = int(receiver.url.rsplit(":", 1)[1])
    # Nothing connects at creation: the public address is only looked at.
    resolver = Resolver({HOST: [["93.184.215.14"], ["127.0.0.1"]]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    stack: Stack = stack_factory(webhook_allow_private=False)
    p = people(stack)
    sub = subscribe(stack.client, p.secretariat, f"https://{HOST}:{port}/turned/ok")
    commitment(stack.client, p.secretariat, p.ministry_id)

    stack.drain()

    assert receiver.of("turned") == []
    (row,) = stack.client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=p.secretariat).json()[
        "items"
    ]
    assert row["delivered_at"] is None
    assert "loopback, private" in row["last_error"]
    assert (
        'vpitracker_webhook_attempts_total{outcome="refused"}' in stack.client.get("/metrics").text
    )
