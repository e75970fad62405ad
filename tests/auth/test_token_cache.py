"""Verified tokens are kept: the same answer as verifying again, and expiry still counts.

Whether the account still holds the token (revoked, deactivated, role changed) is
checked in the database on every request: test_credential_version.py.
"""

from __future__ import annotations

import pytest

from tests.credentials import forged_token
from vpitracker.config import Settings
from vpitracker.kernel import tokens
from vpitracker.models import utcnow


def _verify(settings: Settings, token: str) -> tuple[tokens.Claims, int]:
    """The reference: the full verification, nothing kept."""
    return tokens.verify(
        token,
        settings.secret_key,
        settings.jwt_algorithm,
        settings.jwt_audience,
        settings.jwt_issuer,
    )


class TestVerifiedTokens:
    def test_a_kept_token_decodes_as_its_verification(self, settings: Settings) -> None:
        token, _ = tokens.issue(settings, user_id=7, role="viewer", credential_version=3)
        first = tokens.decode(settings, token)
        hits = tokens._verified.cache_info().hits

        again = tokens.decode(settings, token)

        assert tokens._verified.cache_info().hits == hits + 1
        assert first == again == _verify(settings, token)[0]
        assert again == tokens.Claims(subject=7, role="viewer", credential_version=3)

    def test_a_kept_token_is_refused_once_it_has_expired(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        now = int(utcnow().timestamp())
        token = forged_token(settings, sub="8", role="viewer", exp=now + 30)
        tokens.decode(settings, token)  # kept
        monkeypatch.setattr(tokens, "_now_seconds", lambda: now + 30)
        tokens.decode(settings, token)  # still valid through its exp second, as jose has it

        monkeypatch.setattr(tokens, "_now_seconds", lambda: now + 31)

        with pytest.raises(tokens.InvalidToken):
            tokens.decode(settings, token)

    def test_a_token_signed_with_another_key_is_not_taken_from_the_cache(
        self, settings: Settings
    ) -> None:
        token, _ = tokens.issue(settings, user_id=9, role="viewer", credential_version=1)
        tokens.decode(settings, token)  # kept, for this key
        other = settings.model_copy(update={"secret_key": "another-secret-" + "k" * 32})

        with pytest.raises(tokens.InvalidToken):
            tokens.decode(other, token)

    def test_an_invalid_token_is_not_kept(self, settings: Settings) -> None:
        kept = tokens._verified.cache_info().currsize
        token = forged_token(settings, sub="10", aud="someone-else")

        for _ in range(2):
            with pytest.raises(tokens.InvalidToken):
                tokens.decode(settings, token)

        assert tokens._verified.cache_info().currsize == kept
