"""Webhook secrets (``whsec_``), encrypted at rest, and Standard Webhooks signatures.

The server must hold each secret to sign with it (HMAC), so it cannot keep only a
hash as it does for API keys: it keeps a Fernet token under a key derived from
``VPI_SECRET_KEY`` with HKDF, and decrypts it only to sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vpitracker webhook secrets"
    ).derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def encrypt(secret_key: str, secret: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt(secret_key: str, token: str) -> str:
    return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the decoded secret."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    content = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
