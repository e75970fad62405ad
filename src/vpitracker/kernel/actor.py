"""Who is making a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from vpitracker.vocab import Role


@dataclass(frozen=True)
class Actor:
    """A signed-in user, an API key, or the CLI operator acting as a user."""

    kind: str  # "user" | "api_key"
    id: int
    role: Role
    ministry_ids: frozenset[int] = field(default_factory=frozenset)
    email: str | None = None

    @property
    def scope(self) -> str:
        """Idempotency keys and throttles are scoped by this string."""
        return f"{self.kind}:{self.id}"

    @property
    def can_write(self) -> bool:
        return self.kind == "user"
