"""argon2id password hashing and the rules a new password must meet."""

from __future__ import annotations

import itertools
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verified when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    text = resources.files("vpitracker.data").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _is_sequence(password: str) -> bool:
    """``abcdefghij``, ``1234567890``, ``9876543210``: each character one step on."""
    codes = [ord("9") + 1 if c == "0" and i and password[i - 1] == "9" else ord(c)
             for i, c in enumerate(password)]  # fmt: skip
    steps = {b - a for a, b in itertools.pairwise(codes)}
    return steps in ({1}, {-1})


def _is_repetition(password: str) -> bool:
    """One character or a short unit repeated (``1111111111``, ``abcabcabca``)."""
    return any(
        (password[:n] * (len(password) // n + 1))[: len(password)] == password for n in range(1, 4)
    )


def weakness(password: str, *, email: str, full_name: str) -> str | None:
    """Which rule the password breaks, in words, or None when it is acceptable."""
    lowered = password.lower()
    if not password.strip():
        return "The password cannot be only spaces"
    local = email.lower().partition("@")[0]
    if email.lower() in lowered or (len(local) >= 3 and local in lowered):
        return "The password cannot contain your email address"
    names = [n for n in full_name.lower().split() if len(n) >= 3]
    if any(n in lowered for n in names):
        return "The password cannot contain your name"
    if _is_repetition(lowered):
        return "The password cannot be one character or a short pattern repeated"
    if _is_sequence(lowered):
        return "The password cannot be a simple run of characters (like 12345 or abcde)"
    if lowered in _common_passwords():
        return "The password is on the list of commonly used passwords"
    return None
