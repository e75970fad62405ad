"""What the README and the build files promise matches the repository."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from vpitracker import demo
from vpitracker.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


class TestReadme:
    def test_the_demo_counts_it_states_match_the_demo_file(self) -> None:
        text = " ".join(_section(README, "Demo").split())
        data = demo.scenario()
        stated = {
            "ministries": r"(\d+) real Kenyan institutions",
            "users": r"(\d+) user accounts",
            "recommendations": r"(\d+) recommendations",
            "commitments": r"(\d+) commitments",
            "status_updates": r"(\d+) status updates",
            "assessments": r"(\d+) assessments",
        }
        for kind, pattern in stated.items():
            found = re.search(pattern, text)
            assert found, f"the README's Demo section does not state the {kind}"
            assert int(found.group(1)) == len(data[kind]), kind

    def test_public_read_and_metrics_are_documented_as_they_work(self) -> None:
        for name in ("public_read", "metrics_enabled"):
            assert name in Settings.model_fields
            row = next(line for line in README.splitlines() if f"`VPI_{name.upper()}`" in line)
            assert "reserved" not in row
        assert "/metrics" in README

    def test_every_setting_is_documented(self) -> None:
        missing = [n for n in Settings.model_fields if f"VPI_{n.upper()}" not in README]
        assert missing == []

    def test_it_says_how_to_ask_for_csv(self) -> None:
        assert "?format=csv" in README
        assert "Accept: text/csv" in README

    def test_officers_are_created_after_their_ministry(self) -> None:
        officer = README.index("--role government_officer --ministry MOI")
        assert README.rfind("/v1/ministries", 0, officer) != -1


class TestStandsAlone:
    def test_nothing_points_outside_the_repository(self) -> None:
        tracked = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        offenders = []
        # built from pieces so this file does not match itself
        needles = ("../" + "shared", "DESIGN" + ".md", "STYLE" + ".md", "DESIGN" + " §")
        for name in tracked:
            path = ROOT / name
            if not path.is_file() or path.suffix in {".json", ".csv", ".lock"}:
                continue
            try:
                text = path.read_text("utf-8")
            except UnicodeDecodeError:
                continue
            offenders += [f"{name}: {n}" for n in needles if n in text]
        assert offenders == []

    def test_the_docs_it_cites_exist(self) -> None:
        for doc in ("docs/concepts.md", "docs/architecture.md"):
            assert (ROOT / doc).is_file()
            assert doc in README


def _requirement_name(spec: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", spec.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(path: Path) -> set[str]:
    names = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", path.read_text("utf-8"), re.M)
    return {_requirement_name(n) for n in names}


class TestLockFiles:
    """A dependency added to pyproject.toml without ``make lock`` fails here, loudly."""

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]

    def test_the_runtime_lock_covers_every_runtime_dependency(self) -> None:
        wanted = {_requirement_name(d) for d in self.project["dependencies"]}
        missing = wanted - _locked(ROOT / "requirements" / "runtime.txt")
        assert not missing, f"run `make lock`: {sorted(missing)} not in requirements/runtime.txt"

    def test_the_dev_lock_covers_runtime_test_and_lint(self) -> None:
        extras = self.project["optional-dependencies"]
        wanted = {
            _requirement_name(d)
            for d in [*self.project["dependencies"], *extras["test"], *extras["lint"]]
        }
        missing = wanted - _locked(ROOT / "requirements" / "dev.txt")
        assert not missing, f"run `make lock`: {sorted(missing)} not in requirements/dev.txt"

    def test_every_locked_version_is_hashed(self) -> None:
        for name in ("runtime.txt", "dev.txt", "build.txt"):
            lines = (ROOT / "requirements" / name).read_text("utf-8").splitlines()
            pins = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z0-9][^ ]*==", line)]
            assert pins, name
            for i in pins:
                assert lines[i + 1].strip().startswith("--hash=sha256:"), (name, lines[i])


class TestMakefile:
    def _dry_run(self, *args: str) -> str:
        return subprocess.run(
            ["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    def test_make_run_installs_the_runtime_only_and_takes_port_and_host(self) -> None:
        plan = self._dry_run("run", "PORT=8010", "HOST=0.0.0.0")
        assert "--require-hashes -r requirements/runtime.txt" in plan
        assert "requirements/dev.txt" not in plan
        assert "[test" not in plan
        assert "vpitracker serve --host 0.0.0.0 --port 8010" in plan

    def test_make_test_installs_from_the_dev_lock(self) -> None:
        assert "--require-hashes -r requirements/dev.txt" in self._dry_run("test")

    @pytest.mark.parametrize("target", ["run", "test"])
    def test_the_editable_install_adds_no_unlocked_dependency(self, target: str) -> None:
        plan = self._dry_run(target)
        for line in plan.splitlines():
            if "pip install" in line and "-e ." in line:
                assert "--no-deps" in line, line
