"""ETags and ``If-Match`` for optimistic concurrency on PATCH."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from vpitracker.errors import PreconditionFailed, PreconditionRequired, amend_openapi

ETAG_HEADER = {
    "description": "The version of the record: send it back as If-Match to edit it",
    "schema": {"type": "string", "example": '"v3"'},
}


def etag(version: int) -> str:
    return f'"v{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without ``If-Match``; 412 when it names another version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag of the version you edited")
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(version) not in wanted:
        raise PreconditionFailed(
            "The record changed since you read it (now %(etag)s); read it again",
            etag=etag(version),
        )


def declare_if_match(app: FastAPI) -> None:
    """State in the OpenAPI document what the server enforces about versions.

    ``If-Match`` is declared required (the server answers 428 without it, so generated
    clients must make it a required argument); the dependency itself stays optional so
    a missing header gets that 428, not a validation error. The GET and PATCH answers
    of every versioned path declare their ``ETag`` response header.
    """
    amend_openapi(app, _declare_paths)


def _declare_paths(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        _declare(path_item)


def _declare(path_item: dict[str, Any]) -> None:
    versioned = False
    for operation in path_item.values():
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "header" and parameter["name"].lower() == "if-match":
                parameter["required"] = True
                parameter["schema"] = {"type": "string"}
                versioned = True
    if not versioned:
        return
    for method in ("get", "patch"):
        ok = path_item.get(method, {}).get("responses", {}).get("200")
        if ok is not None:
            ok.setdefault("headers", {})["ETag"] = ETAG_HEADER
