"""ETags and ``If-Match`` for optimistic concurrency on PATCH."""

from __future__ import annotations

from vpitracker.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without ``If-Match``; 412 when it names another version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag of the version you edited")
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(version) not in wanted:
        raise PreconditionFailed(
            f"The record changed since you read it (now {etag(version)}); read it again"
        )
