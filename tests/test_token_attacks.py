"""Forged, altered and stale tokens are refused (401) and write nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import func
from sqlmodel import Session, select

from tests.conftest import TEST_SECRET, test_settings
from tests.credentials import token_for
from tests.factories import make_user
from vpitracker.config import Settings
from vpitracker.models import AuditEvent, Ministry, User
from vpitracker.vocab import Role


def _claims(user: User, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": "vpitracker",
        "aud": "vpitracker-api",
        "sub": str(user.id),
        "role": user.role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _post_ministry(client: TestClient, token: str) -> int:
    r = client.post(
        "/v1/ministries",
        json={"code": "ATTACK", "name": "Forged", "kind": "ministry"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return r.status_code


def _writes(session: Session) -> tuple[int, int]:
    return (
        session.exec(select(func.count()).select_from(Ministry)).one(),
        session.exec(select(func.count()).select_from(AuditEvent)).one(),
    )


class TestForgedTokens:
    @pytest.mark.parametrize(
        "forge",
        [
            "alg_none",
            "other_key",
            "wrong_iss",
            "wrong_aud",
            "expired",
            "not_yet_valid",
            "missing_sub",
            "role_edited",
            "payload_edited",
        ],
    )
    def test_refused_and_nothing_written(
        self, client: TestClient, session: Session, forge: str
    ) -> None:
        officer = make_user(session, Role.government_officer)

        def sign(claims: dict[str, Any], key: str = TEST_SECRET) -> str:
            return str(jwt.encode(claims, key, algorithm="HS256"))

        now = datetime.now(UTC)
        tokens = {
            "alg_none": _b64({"alg": "none", "typ": "JWT"}) + "."
            + _b64(_claims(officer, role="secretariat")) + ".",
            "other_key": sign(_claims(officer), "another-secret-key-0123456789-abcdefghijk"),
            "wrong_iss": sign(_claims(officer, iss="someone-else")),
            "wrong_aud": sign(_claims(officer, aud="another-api")),
            "expired": sign(_claims(officer, exp=int((now - timedelta(minutes=1)).timestamp()))),
            "not_yet_valid": sign(
                _claims(officer, nbf=int((now + timedelta(hours=1)).timestamp()))
            ),
            "missing_sub": sign({k: v for k, v in _claims(officer).items() if k != "sub"}),
            "role_edited": sign(_claims(officer, role="secretariat")),
        }  # fmt: skip
        genuine = jwt.encode(_claims(officer), TEST_SECRET, algorithm="HS256")
        head, _, signature = genuine.split(".")
        tokens["payload_edited"] = ".".join(
            [head, _b64(_claims(officer, role="secretariat")), signature]
        )
        before = _writes(session)
        assert _post_ministry(client, tokens[forge]) == 401
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens[forge]}"})
        assert me.status_code == 401
        assert _writes(session) == before

    def test_deactivated_user_token_is_refused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = make_user(session, Role.secretariat)
        token = token_for(settings, user)
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        user.is_active = False
        session.add(user)
        session.commit()
        before = _writes(session)
        assert _post_ministry(client, token) == 401
        assert _writes(session) == before


@pytest.fixture
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class TestRs256:
    @pytest.fixture
    def settings(self, rsa_keys: tuple[str, str]) -> Settings:
        private, public = rsa_keys
        return test_settings(jwt_algorithm="RS256", jwt_private_key=private, jwt_public_key=public)

    def test_rs256_tokens_work_and_hs256_with_the_public_key_is_refused(
        self, client: TestClient, session: Session, settings: Settings, rsa_keys: tuple[str, str]
    ) -> None:
        user = make_user(session, Role.secretariat)
        good = token_for(settings, user)
        assert jwt.get_unverified_header(good)["alg"] == "RS256"
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        # The classic confusion attack: sign HS256 using the public key as the HMAC secret.
        _, public = rsa_keys
        header = _b64({"alg": "HS256", "typ": "JWT"})
        body = _b64(_claims(user))
        mac = hmac.new(public.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
        forged = f"{header}.{body}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
        before = _writes(session)
        assert _post_ministry(client, forged) == 401
        assert _writes(session) == before
