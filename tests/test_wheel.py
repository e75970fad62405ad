"""The built wheel runs outside the checkout: migrations, demo data and docs ship inside it.

Lean on purpose (it runs in CI on a small machine): the wheel is built without build
isolation and installed with ``--no-deps`` into a fresh virtualenv whose only link to
the test environment is a ``.pth`` line naming its site-packages, for the third-party
dependencies. That link does not process the test environment's own ``.pth`` files, so
the checkout's editable ``vpitracker`` is not importable there: the test asserts it
runs the installed copy, from a folder that holds nothing but the SQLite file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, stop, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
SECRET = "wheel-test-secret-key-0123456789-abcdefghij"

pytestmark = [pytest.mark.sqlite_only, pytest.mark.server]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding the wheel built from this checkout; returns its bin/."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(dist), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("vpitracker-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    target_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    Path(target_site, "test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", "utf-8"
    )
    return env_dir / "bin"


def _run(bin_dir: Path, cwd: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(bin_dir / "vpitracker"), *args],
        cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"vpitracker {' '.join(args)}: {done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def test_the_wheel_carries_its_migrations_and_data(installed: Path, tmp_path: Path) -> None:
    python = installed / "python"
    probe = subprocess.run(
        [str(python), "-c",
         "import vpitracker, vpitracker.migrate as m; print(vpitracker.__file__); "
         "print(m.migrations_dir())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    package_file, migrations = probe.stdout.split()
    assert package_file.startswith(str(installed.parent)), "runs the checkout, not the wheel"
    versions = {p.name for p in Path(migrations, "versions").glob("*.py")}
    assert versions == {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}


def test_installed_wheel_upgrades_creates_seeds_and_serves(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        "PATH": f"{installed}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VPI_DATABASE_URL": f"sqlite:///{work / 'vpi.db'}",
        "VPI_SECRET_KEY": SECRET,
    }
    assert "database at head" in _run(installed, work, env, "db", "upgrade")
    created = _run(
        installed, work, env,
        "users", "create", "--email", "ops@example.org", "--role", "secretariat",
        "--password-stdin",
        stdin="an-operator-password-123\n",
    )  # fmt: skip
    assert json.loads(created)["role"] == "secretariat"

    demo_env = {**env, "VPI_DATABASE_URL": f"sqlite:///{work / 'demo.db'}"}
    demo_env["VPI_ENV"] = "development"
    seeded = json.loads(_run(installed, work, demo_env, "seed", "demo").splitlines()[0])
    assert seeded["commitments"] > 0

    port = free_port()
    process = subprocess.Popen(
        [str(installed / "vpitracker"), "serve", "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        assert httpx.get(f"{url}/readyz").status_code == 200
        assert httpx.get(f"{url}/docs").status_code == 200
        token = httpx.post(
            f"{url}/v1/auth/token",
            data={"username": "ops@example.org", "password": "an-operator-password-123"},
        )
        assert token.status_code == 200, token.text
    finally:
        stop(process)
    assert process.stderr is not None
    log = process.stderr.read().decode()
    assert f"{url}/docs" in log
    assert "Traceback" not in log
