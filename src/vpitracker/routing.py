"""The API's route class: FastAPI's per-request work cut to what a request needs.

- **Dependencies that exist for the OpenAPI document are not run.** Every gate
  (``deps.callers``) names the security schemes it takes with ``Security(...)``, so each
  operation's ``security`` in the document is derived from its own dependencies. Those
  schemes read nothing (the gates read the credentials, with one rule for all of them),
  yet FastAPI would solve each as a dependency on every request. ``ApiRoute`` builds its
  handler from the dependency tree without the dependencies marked ``for_the_document``,
  while the route keeps the full tree in ``dependant``, from which the document is
  rendered: the document does not change. A gate's parameter for such a dependency has
  a default, which the handler then passes.
- **The query parameters are read in one pass.** FastAPI reads and validates a route's
  query parameters field by field, dependency by dependency, inspecting each field's
  annotation again on every request (a commitment page declares 18). Here each field is
  inspected once, when the route is built; a request's parameters are validated in one
  pass with the same fields (``ModelField.validate``) before any dependency runs, and
  given to the dependencies that declare them. When anything is not the plain case (a
  value that does not validate, a parameter given twice, an override of one of those
  dependencies), the request goes to FastAPI's own handler for the same tree instead,
  so every 422 and its order after 401 and 403 are FastAPI's own.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from copy import deepcopy
from typing import Any, TypeVar

from fastapi import Request, Response, params
from fastapi._compat import ModelField
from fastapi._compat.shared import field_annotation_is_sequence, lenient_issubclass
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_signature
from fastapi.routing import APIRoute, _effective_route_context_var
from pydantic import BaseModel, Json
from starlette.datastructures import QueryParams

C = TypeVar("C", bound=Callable[..., Any])
Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_FOR_THE_DOCUMENT: list[Callable[..., Any]] = []


def for_the_document(call: C) -> C:
    """Mark a dependency that only describes the operation (a security scheme, a group
    of them): it returns None, reads nothing and is not run per request."""
    _FOR_THE_DOCUMENT.append(call)
    return call


def _documents_only(dependant: Dependant) -> bool:
    return any(dependant.call is call for call in _FOR_THE_DOCUMENT)


def run_tree(dependant: Dependant) -> Dependant:
    """``dependant`` and its sub-dependencies without those marked ``for_the_document``."""
    return dataclasses.replace(
        dependant,
        dependencies=[run_tree(d) for d in dependant.dependencies if not _documents_only(d)],
    )


# The query values of the request being solved, one dict per dependency that declares
# query parameters (``_QueryPlan``): set by the route's handler, read by those dependencies.
_QUERY_VALUES: ContextVar[list[dict[str, Any]]] = ContextVar("vpitracker_query_values")


def _plain(field: ModelField) -> bool:
    """A query parameter read as FastAPI reads the plain case: one value under its name."""
    info = field.field_info
    annotation = info.annotation
    models = [annotation, *getattr(annotation, "__args__", ())]
    return (
        isinstance(info, params.Query)
        and field.alias == field.name
        and info.validation_alias is None
        and not field_annotation_is_sequence(annotation)
        and not any(lenient_issubclass(model, BaseModel) for model in models)
        and not any(type(item) is Json for item in info.metadata)
    )


class _QueryPlan:
    """Every query parameter of one route's dependency tree, read in one pass."""

    def __init__(self) -> None:
        # (slot of the dependency that declares it, its name, the field)
        self.fields: list[tuple[int, str, ModelField]] = []
        self.slots = 0
        self.plain = True
        # One slot per dependency, however often it appears: FastAPI solves it once.
        self._given: dict[int, Callable[..., Any]] = {}
        # The dependencies given their values, by their own callables (which
        # ``dependency_overrides`` name).
        self.calls: list[Callable[..., Any]] = []

    def take(self, dependant: Dependant) -> Dependant:
        """``dependant``'s tree with each dependency's query parameters given by the plan."""
        taken = dataclasses.replace(
            dependant, dependencies=[self.take(d) for d in dependant.dependencies]
        )
        if not dependant.query_params:
            return taken
        call = dependant.call
        if not inspect.iscoroutinefunction(call) or not all(
            _plain(f) for f in dependant.query_params
        ):
            self.plain = False
            return taken
        given = self._given.get(id(call))
        if given is None:
            slot = self.slots
            self.slots += 1
            self.fields += [(slot, f.name, f) for f in dependant.query_params]
            names = {f.name for f in dependant.query_params}
            given = self._given[id(call)] = _given(call, slot, names)
            self.calls.append(call)
        return dataclasses.replace(taken, call=given, query_params=[])

    def overridden(self, provider: Any) -> bool:
        """Whether ``provider`` (the app) overrides one of the dependencies given values."""
        overrides: dict[Any, Any] = getattr(provider, "dependency_overrides", None) or {}
        return bool(overrides) and any(call in overrides for call in self.calls)

    def read(self, query: QueryParams) -> list[dict[str, Any]] | None:
        """Each dependency's query values, or None unless every one is plainly valid."""
        if len(query) != len(query.multi_items()):
            return None  # a parameter given twice: FastAPI's own reading decides
        values: list[dict[str, Any]] = [{} for _ in range(self.slots)]
        for slot, name, field in self.fields:
            raw = query.get(name)
            if raw is None:
                if field.field_info.is_required():
                    return None
                value = deepcopy(field.default)
                if not field.field_info.validate_default:
                    values[slot][name] = value
                    continue
            else:
                value = raw
            value, errors = field.validate(value, {}, loc=("query", name))
            if errors:
                return None
            values[slot][name] = value
        return values


def _given(call: Callable[..., Any], slot: int, names: set[str]) -> Callable[..., Any]:
    """``call`` with its query parameters (``names``) taken from the request's plan.

    Its signature is ``call``'s without them, so that FastAPI, when it rebuilds the
    dependency from its signature (as it does under ``dependency_overrides``), finds
    the same dependency.
    """

    async def given(**values: Any) -> Any:
        return await call(**values, **_QUERY_VALUES.get()[slot])

    signature = get_typed_signature(call)
    given.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name not in names]
    )
    return given


class ApiRoute(APIRoute):
    """An API route whose handler solves only the dependencies a request needs."""

    def get_route_handler(self) -> Handler:
        # FastAPI builds an included route's handler once per inclusion, from that
        # inclusion's own copy of the route (its prefix, its router's dependencies),
        # which it names in a context variable while it does; the handler reads the
        # tree from there, so the tree is swapped there for the build.
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        full = route.dependant
        tree = run_tree(full)
        plan = _QueryPlan()
        given = plan.take(tree)
        try:
            route.dependant = tree
            fastapi_handler = super().get_route_handler()
            if not plan.fields or not plan.plain:
                return fastapi_handler
            route.dependant = given
            read_once = super().get_route_handler()
        finally:
            route.dependant = full

        provider = route.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            # An overridden dependency is found by FastAPI under its own callable.
            values = None if plan.overridden(provider) else plan.read(request.query_params)
            if values is None:
                return await fastapi_handler(request)
            token = _QUERY_VALUES.set(values)
            try:
                return await read_once(request)
            finally:
                _QUERY_VALUES.reset(token)

        return handler
