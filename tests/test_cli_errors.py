"""The ``vpitracker`` command as a newcomer meets it: one line per mistake, no secrets.

Each case runs the command with a bare environment (no ``VPI_SECRET_KEY`` unless the
case sets one) from an empty folder and checks that it exits non-zero with one
``error:`` line on stderr, never a Python traceback. Most cases call the Typer app in
this process (an exception would fail the test just as a traceback would);
``TestRealCommand`` runs the installed entry point in a subprocess to prove the same.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import database_url
from vpitracker import migrate
from vpitracker.cli import app
from vpitracker.config import get_settings
from vpitracker.db import make_engine

# Known secrets fed through the error paths; none may ever be printed.
SHORT_PASSWORD = "Sh0rt-pw!"  # under the 10-character minimum
GOOD_PASSWORD = "A-long-enough-Secret-pw-4711"
SHORT_KEY = "tiny-key-QWERTY"  # under 32 characters
URL_PASSWORD = "Url-Secret-8d1e"

Done = subprocess.CompletedProcess[str]
Run = Callable[..., Done]


def run_subprocess(tmp: Path, *args: str, stdin: str = "", **env: str) -> Done:
    return subprocess.run(
        [sys.executable, "-m", "vpitracker", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env},
        cwd=tmp,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str, stdin: str = "", **env: str) -> Done:
        with monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("VPI_")]:
                patch.delenv(name)
            for name, value in env.items():
                patch.setenv(name, value)
            patch.chdir(tmp_path)
            patch.setattr(sys, "stdin", io.StringIO(stdin))
            get_settings.cache_clear()
            try:
                app(list(args), prog_name="vpitracker")
                code: int = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                get_settings.cache_clear()
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return invoke


def assert_one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for text in expected:
        assert text in lines[0], output
    return lines[0]


def create_operator(run: Run, env: dict[str, str]) -> Done:
    created = run(
        "users", "create", "--email", "ops@example.org", "--role", "secretariat",
        "--password-stdin",
        stdin=GOOD_PASSWORD + "\n",
        **env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    return created


@pytest.fixture
def migrated_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


class TestNoTraceback:
    @pytest.mark.parametrize(
        "args",
        [
            ("export", "--out", "out"),
            ("backup", "copy.db"),
            ("audit", "verify"),
            ("users", "create", "--email", "a@example.org", "--role", "viewer", "--password-stdin"),
        ],
        ids=["export", "backup", "audit-verify", "users-create"],
    )
    def test_a_misspelt_sqlite_path_is_named_and_not_created(
        self, run: Run, tmp_path: Path, args: tuple[str, ...]
    ) -> None:
        # No VPI_SECRET_KEY and no VPI_ENV: these commands sign nothing.
        done = run(*args, stdin=GOOD_PASSWORD + "\n", VPI_DATABASE_URL="sqlite:///./dta.db")
        assert_one_line_error(done, "no database at dta.db", "vpitracker db upgrade")
        assert not (tmp_path / "dta.db").exists()
        assert not (tmp_path / "copy.db").exists()

    def test_users_create_before_db_upgrade_says_to_migrate(self, run: Run, tmp_path: Path) -> None:
        (tmp_path / "empty.db").touch()
        done = run(
            "users", "create", "--email", "a@example.org", "--role", "secretariat",
            "--password-stdin",
            stdin=GOOD_PASSWORD + "\n",
            VPI_DATABASE_URL="sqlite:///./empty.db",
        )  # fmt: skip
        assert_one_line_error(done, "not migrated", "vpitracker db upgrade")

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            (f"mysql://root:{URL_PASSWORD}@127.0.0.1/vpi", "names a mysql database"),
            ("sqlite:////no/such/folder/vpi.db", "folder /no/such/folder"),
            ("not a url", "not a database URL"),
        ],
        ids=["mysql", "missing-folder", "garbage"],
    )
    def test_a_bad_database_url_is_one_line(self, run: Run, url: str, expected: str) -> None:
        for args in (("db", "upgrade"), ("export", "--out", "out")):
            line = assert_one_line_error(run(*args, VPI_DATABASE_URL=url), expected)
            assert URL_PASSWORD not in line

    @pytest.mark.postgres_only
    def test_a_postgres_database_that_does_not_exist(self, run: Run) -> None:
        url = make_url(database_url()).set(database="vpi_no_such_database_0")
        rendered = url.render_as_string(hide_password=False)
        for args in (("db", "upgrade"), ("audit", "verify")):
            done = run(*args, VPI_DATABASE_URL=rendered)
            assert_one_line_error(done, "'vpi_no_such_database_0' does not exist", "createdb")

    def test_commands_that_sign_nothing_run_without_a_secret_key(
        self, run: Run, tmp_path: Path, migrated_sqlite: str
    ) -> None:
        env = {"VPI_DATABASE_URL": migrated_sqlite}
        created = create_operator(run, env)
        assert json.loads(created.stdout)["role"] == "secretariat"
        verified = run("audit", "verify", **env)
        assert verified.returncode == 0, verified.stderr
        assert json.loads(verified.stdout)["ok"] is True
        exported = run("export", "--out", "out", "--json", **env)
        assert exported.returncode == 0, exported.stderr
        assert (tmp_path / "out" / "ministries.csv").is_file()
        backed_up = run("backup", "copy.db", **env)
        assert backed_up.returncode == 0, backed_up.stderr
        # serve signs tokens: it alone refuses the missing key, in one line.
        assert_one_line_error(run("serve", **env), "VPI_SECRET_KEY")

    def test_an_officer_for_an_unknown_ministry_says_create_it_first(
        self, run: Run, migrated_sqlite: str
    ) -> None:
        done = run(
            "users", "create", "--email", "o@example.org", "--role", "government_officer",
            "--ministry", "MOI", "--password-stdin",
            stdin=GOOD_PASSWORD + "\n",
            VPI_DATABASE_URL=migrated_sqlite,
        )  # fmt: skip
        assert_one_line_error(done, "MOI", "create the ministry first")


class TestNoSecretIsPrinted:
    def test_secrets_never_reach_the_output(self, run: Run, migrated_sqlite: str) -> None:
        secret_url = f"postgresql://vpi:{URL_PASSWORD}@127.0.0.1:1/vpi"
        user = ("users", "create", "--email", "a@example.org", "--role", "secretariat")
        cases = [
            # a too-short password: pydantic would echo it as input_value
            ((*user, "--password-stdin"), SHORT_PASSWORD, {"VPI_DATABASE_URL": migrated_sqlite}),
            # a bad email with a good password
            (
                (
                    "users",
                    "create",
                    "--email",
                    "not-an-email",
                    "--role",
                    "viewer",
                    "--password-stdin",
                ),
                GOOD_PASSWORD,
                {"VPI_DATABASE_URL": migrated_sqlite},
            ),
            ((*user, "--password-stdin"), GOOD_PASSWORD, {"VPI_DATABASE_URL": secret_url}),
            (("db", "upgrade"), "", {"VPI_DATABASE_URL": secret_url}),
            (("export", "--out", "o"), "", {"VPI_DATABASE_URL": secret_url}),
            # a too-short key: the settings validator would echo it
            (("serve",), "", {"VPI_DATABASE_URL": migrated_sqlite, "VPI_SECRET_KEY": SHORT_KEY}),
            (
                ("serve",),
                "",
                {"VPI_DATABASE_URL": secret_url, "VPI_SECRET_KEY": SHORT_KEY, "VPI_ENV": "test"},
            ),
            (
                ("import", "ministries", "missing.csv", "--as", "a@example.org"),
                "",
                {"VPI_DATABASE_URL": secret_url, "VPI_SECRET_KEY": SHORT_KEY},
            ),
        ]
        for args, stdin, env in cases:
            done = run(*args, stdin=stdin + "\n", **env)
            output = done.stdout + done.stderr
            assert done.returncode != 0, (args, output)
            assert "Traceback" not in output, (args, output)
            for secret in (SHORT_PASSWORD, GOOD_PASSWORD, SHORT_KEY, URL_PASSWORD):
                assert secret not in output, (args, output)


class TestImportReport:
    def test_a_rejected_import_reports_nothing_written(
        self, run: Run, tmp_path: Path, migrated_sqlite: str
    ) -> None:
        env = {"VPI_DATABASE_URL": migrated_sqlite}
        create_operator(run, env)
        # Rows 2 and 3 are good; row 4 names a parent that does not exist, so nothing
        # is written and the report must not list rows 2 and 3 as created.
        (tmp_path / "ministries.csv").write_text(
            "code,name,kind,parent_code,contact_email\r\n"
            "MOI,Interior,ministry,,\r\n"
            "DCI,Criminal Investigations,agency,MOI,\r\n"
            "NPS,Police,agency,NOPE,\r\n",
            "utf-8",
        )
        done = run("import", "ministries", "ministries.csv", "--as", "ops@example.org",
                   "--json", **env)  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["errors"], report
        assert report["written"] is False
        assert report["created"] == report["updated"] == []
        assert report["counts"] == {"created": 0, "updated": 0, "unchanged": 0}
        exported = run("export", "--out", "out", "--json", **env)
        assert json.loads(exported.stdout)["files"]["ministries.csv"] == 0


class TestExportOverwrite:
    def test_export_refuses_to_overwrite_without_force(
        self, run: Run, tmp_path: Path, migrated_sqlite: str
    ) -> None:
        env = {"VPI_DATABASE_URL": migrated_sqlite}
        assert run("export", "--out", "out", **env).returncode == 0
        (tmp_path / "out" / "ministries.csv").write_text("keep me", "utf-8")
        again = run("export", "--out", "out", **env)
        assert_one_line_error(again, "already holds", "--force")
        assert (tmp_path / "out" / "ministries.csv").read_text("utf-8") == "keep me"
        forced = run("export", "--out", "out", "--force", **env)
        assert forced.returncode == 0, forced.stderr
        assert (tmp_path / "out" / "ministries.csv").read_text("utf-8").startswith("code,")


class TestRealCommand:
    def test_the_installed_entry_point_gives_one_line_too(
        self, tmp_path: Path, migrated_sqlite: str
    ) -> None:
        missing = run_subprocess(
            tmp_path, "export", "--out", "o", VPI_DATABASE_URL="sqlite:///x.db"
        )
        assert_one_line_error(missing, "no database at x.db")
        short = run_subprocess(
            tmp_path,
            "users", "create", "--email", "a@example.org", "--role", "viewer", "--password-stdin",
            stdin=SHORT_PASSWORD + "\n",
            VPI_DATABASE_URL=migrated_sqlite,
        )  # fmt: skip
        line = assert_one_line_error(short, "password")
        assert SHORT_PASSWORD not in short.stdout + short.stderr, line


class TestProgressDisplay:
    def test_a_terminal_sees_progress_a_pipe_sees_only_the_answer(
        self, tmp_path: Path, migrated_sqlite: str
    ) -> None:
        import os as _os
        import pty

        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "xterm"}
        env["VPI_DATABASE_URL"] = migrated_sqlite
        for args, again, label in (
            (("export", "--out", "out", "--json"), ("export", "--out", "out2"), "exporting csv"),
            (("audit", "verify"), ("audit", "verify"), "verifying the audit chain"),
            (("backup", "copy.db"), ("backup", "copy2.db"), "backing up to copy.db"),
        ):
            controller, terminal = pty.openpty()
            done = subprocess.run(
                [sys.executable, "-m", "vpitracker", *args],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=terminal,
                timeout=120, check=False,
            )  # fmt: skip
            _os.close(terminal)
            shown = b""
            try:
                while chunk := _os.read(controller, 65536):
                    shown += chunk
            except OSError:  # the terminal side is closed: everything was read
                pass
            _os.close(controller)
            assert done.returncode == 0, shown
            assert label.encode() in shown, (args, shown)
            json.loads(done.stdout)  # the answer stays clean JSON
            piped = run_subprocess(tmp_path, *again, VPI_DATABASE_URL=migrated_sqlite)
            assert piped.returncode == 0, piped.stderr
            assert piped.stderr == ""
