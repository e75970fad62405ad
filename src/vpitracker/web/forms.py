"""Form posts into the API's own request bodies, and their errors back beside the fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vpitracker.errors import Invalid
from vpitracker.reporting.schemas import AssessmentCreate, StatusUpdateCreate

EVIDENCE_ROWS = 3
T = TypeVar("T", bound=BaseModel)


@dataclass
class FormState:
    """What the person typed, and what is wrong with it (field name -> messages)."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def _number(raw: str) -> int | str | None:
    raw = raw.strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() else raw


def _evidence(urls: list[str], titles: list[str]) -> list[dict[str, str]]:
    rows = []
    for i, url in enumerate(urls):
        title = titles[i] if i < len(titles) else ""
        if url.strip() or title.strip():
            rows.append({"url": url.strip(), "title": title})
    return rows


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [p for p in loc if p != "body"]
    if not parts:
        return "__all__"
    if parts[0] == "evidence":
        return "evidence"
    return str(parts[0])


def _collect(state: FormState, exc: ValidationError) -> None:
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        state.add(_field_of(error["loc"]), message)


def invalid_into(state: FormState, exc: Invalid) -> None:
    """A rule the service checked (an ``Invalid``) shown beside its field."""
    errors = exc.errors or [{"loc": [], "msg": exc.detail}]
    for error in errors:
        state.add(_field_of(error.get("loc") or []), str(error.get("msg", exc.detail)))


def _parse(
    model: type[T], form: dict[str, Any], texts: tuple[str, ...], ids: tuple[str, ...]
) -> tuple[T | None, FormState]:
    """The API's own body model from the form: the same validation, the same messages."""
    values = {name: form.get(name, "") for name in (*texts, *ids)}
    evidence = _evidence(form.get("evidence_url", []), form.get("evidence_title", []))
    state = FormState(values={**values, "evidence": evidence})
    body = {
        **{name: values[name] for name in texts},
        **{name: _number(values[name]) for name in ids},
        "evidence": evidence,
    }
    try:
        return model.model_validate(body), state
    except ValidationError as exc:
        _collect(state, exc)
        return None, state


def status_update(form: dict[str, Any]) -> tuple[StatusUpdateCreate | None, FormState]:
    return _parse(
        StatusUpdateCreate, form, ("status", "summary"),
        ("progress_percent", "in_reply_to_assessment_id", "ministry_id"),
    )  # fmt: skip


def assessment(form: dict[str, Any]) -> tuple[AssessmentCreate | None, FormState]:
    return _parse(
        AssessmentCreate, form, ("verdict", "assessed_status", "rationale"), ("status_update_id",)
    )
