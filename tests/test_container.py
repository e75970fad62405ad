"""Docker cannot run here: check the properties of the image and compose files instead."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from vpitracker.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")
COMPOSE = (ROOT / "compose.yaml").read_text("utf-8")


def _instruction(name: str) -> list[str]:
    return [
        line.split(None, 1)[1]
        for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines()
        if line.startswith(name + " ")
    ]


class TestDockerfile:
    def test_starts_the_documented_server_command(self) -> None:
        cmd = _instruction("CMD")[-1]
        argv = [a.strip('",[] ') for a in cmd.split(",")]
        assert argv[:2] == ["vpitracker", "serve"]
        makefile = (ROOT / "Makefile").read_text("utf-8")
        assert "vpitracker serve" in makefile
        # Every option the image passes is one the CLI accepts.
        help_text = CliRunner().invoke(app, ["serve", "--help"]).output
        for option in (a for a in argv if a.startswith("--")):
            assert option in help_text

    def test_installs_the_locked_versions_and_the_wheel(self) -> None:
        runs = " ".join(_instruction("RUN"))
        assert "--require-hashes -r requirements/runtime.txt" in runs
        assert "--require-hashes -r requirements/build.txt" in runs
        assert "pip wheel --no-deps" in runs
        assert "pip install --no-deps /wheels/vpitracker-" in runs
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
        assert scripts["vpitracker"] == "vpitracker.cli:app"

    def test_runs_as_non_root_with_a_health_check_and_packaged_migrations(self) -> None:
        assert _instruction("USER")[-1] != "root"
        assert "/healthz" in _instruction("HEALTHCHECK")[-1]
        # The wheel carries the migrations: no override, no loose copy in the image.
        assert "VPI_MIGRATIONS_DIR" not in DOCKERFILE
        assert "COPY migrations ./migrations" in DOCKERFILE.split("\nFROM ")[1]
        assert DOCKERFILE.count("FROM ") >= 2  # multi-stage

    def test_one_process_on_the_default_sqlite_and_a_declared_data_volume(self) -> None:
        env = " ".join(_instruction("ENV"))
        assert "VPI_DATABASE_URL=sqlite:////data/" in env
        argv = [a.strip('",[] ') for a in _instruction("CMD")[-1].split(",")]
        assert argv[argv.index("--workers") + 1] == "1"
        assert _instruction("VOLUME") == ['["/data"]']

    def test_postgres_client_matches_the_compose_server(self) -> None:
        server_major = re.search(r"image: postgres:(\d+)", COMPOSE)
        assert server_major is not None
        runs = " ".join(_instruction("RUN"))
        assert f"postgresql-client-{server_major.group(1)}" in runs
        # the client package comes from the distribution the final stage is built on
        assert _instruction("FROM")[-1].endswith("-bookworm")

    def test_readme_documents_the_same_commands(self) -> None:
        readme = (ROOT / "README.md").read_text("utf-8")
        assert "docker compose up" in readme
        assert "vpitracker serve" in readme
        assert "VPI_DATABASE_URL: postgresql+psycopg://" in COMPOSE
        assert shlex.split("make run")[0] in readme


def _service(name: str) -> str:
    """One service's block of compose.yaml."""
    section = COMPOSE.split("\nservices:\n", 1)[1].split("\nvolumes:", 1)[0]
    (block,) = [
        b for b in re.split(r"\n(?=  \w+:\n)", "\n" + section) if b.startswith(f"  {name}:")
    ]
    return block


class TestCompose:
    def test_no_password_is_written_in_the_file(self) -> None:
        assert "POSTGRES_PASSWORD: ${VPI_DB_PASSWORD:?" in COMPOSE
        urls = re.findall(r"VPI_DATABASE_URL: (\S+)", COMPOSE)
        assert len(urls) >= 2  # the API and the worker
        for url in urls:
            assert "${VPI_DB_PASSWORD:?" in url
        assert "VPI_SECRET_KEY: ${VPI_SECRET_KEY:?" in COMPOSE

    def test_the_api_leaves_the_background_work_to_the_worker_service(self) -> None:
        api, worker = (_service(name) for name in ("api", "worker"))
        # One command each: YAML loaders silently keep the last of a key given twice.
        assert api.count("\n    command:") == worker.count("\n    command:") == 1
        assert "--no-worker" in api
        assert 'command: ["vpitracker", "worker"' in worker
        for name in ("VPI_DATABASE_URL", "VPI_SECRET_KEY", "VPI_SMTP_URL", "VPI_MAIL_FROM"):
            setting = re.compile(rf"\n      {name}: (.*)")
            assert setting.findall(api) == setting.findall(worker), name

    def test_every_service_restarts(self) -> None:
        section = COMPOSE.split("\nservices:\n", 1)[1].split("\nvolumes:", 1)[0]
        services = re.split(r"\n  (?=\w+:\n)", section)
        assert len(services) >= 2
        for service in services:
            assert "restart: unless-stopped" in service, service

    def test_the_first_user_recipe_reads_the_password_from_stdin(self) -> None:
        readme = (ROOT / "README.md").read_text("utf-8")
        recipes = [line for line in readme.splitlines() if "vpitracker users create" in line]
        assert recipes
        for line in recipes:
            assert "--password-stdin" in line, line
            assert "--password " not in line, line
            assert "--password=" not in line, line
