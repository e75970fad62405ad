"""Docker cannot run here: check that the image runs the commands we test and document."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from vpitracker.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text("utf-8")


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

    def test_installs_the_package_that_provides_the_command(self) -> None:
        runs = " ".join(_instruction("RUN"))
        assert "pip install ." in runs
        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
        assert scripts["vpitracker"] == "vpitracker.cli:app"

    def test_runs_as_non_root_with_migrations_and_a_health_check(self) -> None:
        assert _instruction("USER")[-1] != "root"
        assert "/healthz" in _instruction("HEALTHCHECK")[-1]
        copies = " ".join(_instruction("COPY"))
        assert "migrations" in copies
        env = " ".join(_instruction("ENV"))
        assert "VPI_MIGRATIONS_DIR=/app/migrations" in env
        assert DOCKERFILE.count("FROM ") >= 2  # multi-stage

    def test_readme_documents_the_same_commands(self) -> None:
        readme = (ROOT / "README.md").read_text("utf-8")
        assert "docker compose up" in readme
        assert "vpitracker serve" in readme
        compose = (ROOT / "compose.yaml").read_text("utf-8")
        assert "VPI_DATABASE_URL: postgresql+psycopg://" in compose
        assert shlex.split("make run")[0] in readme
