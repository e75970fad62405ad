"""Ship the top-level ``migrations/`` inside the wheel as ``vpitracker/_migrations``.

The migrations stay at the repository root (Alembic's usual layout, where
contributors add files to ``migrations/versions/``); this build step copies the
whole folder into the built package, so every new migration ships without
touching packaging metadata. Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MIGRATIONS = ROOT / "migrations"


class BuildWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if not MIGRATIONS.is_dir():  # building from an sdist that already carries them
            return
        target = Path(self.build_lib) / "vpitracker" / "_migrations"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(MIGRATIONS, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithMigrations})
