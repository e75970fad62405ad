"""POST /v1/imports/{kind}: the same import over HTTP, secretariat only, capped in size."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.assertions import problem, row_counts
from tests.credentials import NON_SECRETARIAT, auth, headers_as
from tests.factories import make_user
from tests.transfer.helpers import TABLES, csv_file, ministry_row
from vpitracker.config import Settings
from vpitracker.errors import Conflict
from vpitracker.limits import MAX_UPLOAD_BYTES
from vpitracker.ministries import repository as ministries_repository
from vpitracker.ministries import service as ministries_service
from vpitracker.transfer.schemas import Kind
from vpitracker.vocab import Role

URL = "/v1/imports/ministries"


def _files(data: bytes, name: str = "ministries.csv") -> dict[str, Any]:
    return {"file": (name, data, "text/csv")}


@pytest.fixture
def secretariat(session: Session, settings: Settings) -> dict[str, str]:
    return auth(settings, make_user(session, Role.secretariat))


GOOD = csv_file(Kind.ministries, [ministry_row("MOI"), ministry_row("SDI", parent_code="MOI")])


class TestImportRoute:
    def test_a_good_file_is_imported_and_reported(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        r = client.post(URL, files=_files(GOOD), headers=secretariat)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kind"] == "ministries"
        assert body["created"] == ["MOI", "SDI"]
        assert body["errors"] == []
        child = ministries_repository.by_code(session, "SDI")
        assert child is not None
        assert child.parent_id is not None
        again = client.post(URL, files=_files(GOOD), headers=secretariat)
        assert again.json()["unchanged"] == ["MOI", "SDI"]

    def test_dry_run_writes_nothing(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        counts = row_counts(session, *TABLES)
        r = client.post(URL, params={"dry_run": "true"}, files=_files(GOOD), headers=secretariat)
        assert r.status_code == 200, r.text
        assert (r.json()["dry_run"], r.json()["counts"]["created"]) == (True, 2)
        assert row_counts(session, *TABLES) == counts

    def test_an_xlsx_upload_is_read_as_a_workbook(
        self, client: TestClient, secretariat: dict[str, str]
    ) -> None:
        import io

        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(["code", "name", "kind", "parent_code", "contact_email"])
        sheet.append(["MOI", "Interior", "ministry", None, None])
        buffer = io.BytesIO()
        workbook.save(buffer)
        r = client.post(URL, files=_files(buffer.getvalue(), "m.xlsx"), headers=secretariat)
        assert r.status_code == 200, r.text
        assert r.json()["created"] == ["MOI"]

    @pytest.mark.parametrize("who", NON_SECRETARIAT)
    def test_only_the_secretariat_may_import(
        self, client: TestClient, session: Session, settings: Settings, who: str
    ) -> None:
        headers = headers_as(session, settings, who)
        counts = row_counts(session, *TABLES)
        problem(client.post(URL, files=_files(GOOD), headers=headers), 403)
        assert row_counts(session, *TABLES) == counts

    def test_anonymous_gets_401(self, client: TestClient) -> None:
        problem(client.post(URL, files=_files(GOOD)), 401)

    def test_bad_rows_answer_422_with_row_and_column_and_write_nothing(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        counts = row_counts(session, *TABLES)
        data = csv_file(
            Kind.ministries,
            [ministry_row("A"), ministry_row("B", parent_code="ZZZ"), ministry_row("C")],
        )
        body = problem(client.post(URL, files=_files(data), headers=secretariat), 422)
        assert body["errors"] == [{"loc": [3, "parent_code"], "msg": "unknown ministry code 'ZZZ'"}]
        assert "nothing was imported" in body["detail"]
        assert row_counts(session, *TABLES) == counts

    def test_a_service_refusal_midway_rolls_back_the_rows_already_written(
        self,
        client: TestClient,
        session: Session,
        secretariat: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        real_create = ministries_service.create
        calls = []

        def create_then_refuse(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise Conflict("A ministry with code 'C' already exists")
            return real_create(*args, **kwargs)

        monkeypatch.setattr(ministries_service, "create", create_then_refuse)
        counts = row_counts(session, *TABLES)
        data = csv_file(Kind.ministries, [ministry_row(c) for c in "ABCD"])
        body = problem(client.post(URL, files=_files(data), headers=secretariat), 422)
        assert body["errors"] == [{"loc": [4], "msg": "A ministry with code 'C' already exists"}]
        assert len(calls) == 3
        assert row_counts(session, *TABLES) == counts

    def test_a_file_over_the_cap_answers_413(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        counts = row_counts(session, *TABLES)
        huge = GOOD + b"X," * (MAX_UPLOAD_BYTES // 2)
        problem(client.post(URL, files=_files(huge), headers=secretariat), 413)
        assert row_counts(session, *TABLES) == counts

    def test_an_upload_without_a_file_part_answers_422(
        self, client: TestClient, secretariat: dict[str, str]
    ) -> None:
        problem(client.post(URL, data={"other": "x"}, headers=secretariat), 422)
        problem(client.post(URL, content=GOOD, headers=secretariat), 422)

    def test_an_unknown_kind_answers_422(
        self, client: TestClient, secretariat: dict[str, str]
    ) -> None:
        problem(client.post("/v1/imports/users", files=_files(GOOD), headers=secretariat), 422)

    def test_an_idempotency_key_replays_the_first_answer(
        self, client: TestClient, session: Session, secretariat: dict[str, str]
    ) -> None:
        headers = {**secretariat, "Idempotency-Key": "import-1"}
        first = client.post(URL, files=_files(GOOD), headers=headers)
        assert first.status_code == 200, first.text
        counts = row_counts(session, *TABLES)
        replay = client.post(URL, files=_files(GOOD), headers=headers)
        assert replay.status_code == 200
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
        assert row_counts(session, *TABLES) == counts
        # The same key with another request (here: a dry run) is refused.
        other = client.post(URL, params={"dry_run": "true"}, files=_files(GOOD), headers=headers)
        problem(other, 422)
