"""Which reads a PostgreSQL streaming replica serves (``VPI_READ_DATABASE_URL``).

Dashboard reads — progress, reports, the collection lists and the pages that show
them — may lag the primary by the replica's replay delay (README "Scale-out").
Everything else reads the primary: every write and the reads inside it; single
records (so an ``ETag`` for ``If-Match``, and a read just after one's own write,
are current); credentials (a revoked key or an ended session stops at once, and
an API key's ``last_used_at`` is written there); the audit chain and its
verification; the officer's desk, which answers what they just did.
"""

from __future__ import annotations

from starlette.types import Scope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Route templates, exactly as the routers declare them (a test checks each exists).
REPLICA_ROUTES = frozenset(
    {
        "/v1/progress/summary",
        "/v1/progress/ministries",
        "/v1/progress/clusters",
        "/v1/progress/instruments",
        "/v1/progress/timeline",
        "/v1/reports/commitments",
        "/v1/reports/recommendations",
        "/v1/reports/status-history",
        "/v1/commitments",
        "/v1/commitments/{commitment_id}/status-updates",
        "/v1/commitments/{commitment_id}/assessments",
        "/v1/status-updates",
        "/v1/ministries",
        "/v1/recommendations",
        "/v1/provisions",
        # pages
        "/",
        "/commitments",
        "/ministries/{ministry_id}",
        "/reports/{name}.csv",
    }
)


def serves(scope: Scope) -> bool:
    """True when this request is a dashboard read that a replica may answer."""
    route = scope.get("route")
    return scope.get("method") in READ_METHODS and getattr(route, "path", None) in REPLICA_ROUTES
