# vpitracker: multi-stage image, non-root, migrations then the server.
# Bookworm's postgresql-client-15 matches the postgres:15 server in compose.yaml, so
# `vpitracker backup` (pg_dump) and pg_restore work inside the stack.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements ./requirements
# Exact, hashed versions from the lock files (refreshed with `make lock`).
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes -r requirements/runtime.txt \
 && python -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r requirements/build.txt
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY src ./src
COPY migrations ./migrations
# The wheel carries the migrations and data; its dependencies are already installed.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && /opt/venv/bin/pip install --no-deps /wheels/vpitracker-*.whl

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 vpi \
 && mkdir /data && chown vpi /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
ENV PATH="/opt/venv/bin:$PATH" \
    VPI_DATABASE_URL=sqlite:////data/vpitracker.db \
    PYTHONUNBUFFERED=1
# The SQLite database (the default) lives here: mount a volume to keep it.
VOLUME ["/data"]
USER vpi
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# `vpitracker serve` applies the migrations, then serves. One process: the supported
# setup on SQLite; on PostgreSQL raise --workers (compose.yaml does).
CMD ["vpitracker", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]
