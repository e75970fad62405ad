# vpitracker: multi-stage image, non-root, migrations then the server.
FROM python:3.11-slim AS build
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 vpi
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH="/opt/venv/bin:$PATH" \
    VPI_MIGRATIONS_DIR=/app/migrations \
    VPI_DATABASE_URL=sqlite:////data/vpitracker.db \
    PYTHONUNBUFFERED=1
RUN mkdir /data && chown vpi /data
USER vpi
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# `vpitracker serve` applies the migrations, then serves.
CMD ["vpitracker", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
