# Starlette's TestClient imports ``httpx2`` when type checking and falls back to ``httpx``
# at run time (httpx2 is not installed). Without this stub mypy sees TestClient's base as
# Any and every test request returns Any; it re-exports httpx, which is what runs.
from httpx import *
from httpx import _client as _client
from httpx import _types as _types
