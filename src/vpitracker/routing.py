"""The API's route class: dependencies that exist for the OpenAPI document are not run.

Every gate (``deps.callers``) names the security schemes it takes with ``Security(...)``,
so each operation's ``security`` in the document is derived from its own dependencies.
Those schemes read nothing (the gates read the credentials, with one rule for all of
them), yet FastAPI solves each as a dependency on every request: three or four no-op
calls per request, with their group, each walked, cache-keyed and awaited.

``ApiRoute`` builds its request handler from the route's dependency tree without the
dependencies marked ``for_the_document``, while the route keeps the full tree in
``dependant``, from which the document is rendered: the document does not change.
A gate's parameter for such a dependency has a default, which the handler then passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var

C = TypeVar("C", bound=Callable[..., Any])

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


class ApiRoute(APIRoute):
    """An API route whose handler solves only the dependencies a request needs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # FastAPI builds an included route's handler once per inclusion, from that
        # inclusion's own copy of the route (its prefix, its router's dependencies),
        # which it names in a context variable while it does; the handler reads the
        # tree from there, so the tree is swapped there for the build.
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        full = route.dependant
        route.dependant = run_tree(full)
        try:
            return super().get_route_handler()
        finally:
            route.dependant = full
