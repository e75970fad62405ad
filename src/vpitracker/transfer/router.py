"""HTTP route for spreadsheet imports: the same checks and report as ``vpitracker import``."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from vpitracker.deps import SecretariatBeforeWork, SessionDep, SettingsDep
from vpitracker.errors import Invalid, responses
from vpitracker.idempotency import idempotency
from vpitracker.limits import MAX_UPLOAD_BYTES
from vpitracker.routing import ApiRoute
from vpitracker.transfer import service
from vpitracker.transfer.schemas import ImportReport, Kind

router = APIRouter(prefix="/v1/imports", tags=["imports"], route_class=ApiRoute)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def read_upload(request: Request) -> Upload:
    """The ``file`` part of a multipart body (RequestLimitsMiddleware caps the body: 413)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Invalid("Send the file as multipart/form-data in a part named file", loc=["body"])
    body = await request.body()

    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, once(), max_files=1, max_fields=10).parse()
    except MultiPartException as exc:
        raise Invalid(
            "The multipart body cannot be read: %(reason)s", loc=["body"], reason=exc.message
        ) from None
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise Invalid("Send the spreadsheet in a part named file", loc=["body", "file"])
        return Upload(filename=part.filename or "", data=await part.read())
    finally:
        await form.close()


UploadDep = Annotated[Upload, Depends(read_upload)]


def _fingerprint(request: Request, upload: Upload) -> str:
    """The idempotency fingerprint: ``dry_run`` and the file."""
    digest = hashlib.sha256(f"POST {request.url.path}?{request.url.query}\n".encode())
    # The file, not the raw body: clients pick a new multipart boundary on every retry.
    digest.update(f"{upload.filename}\n".encode())
    digest.update(upload.data)
    return digest.hexdigest()


_MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A .csv (UTF-8) or .xlsx file; the whole request "
                            f"at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/{kind}",
    operation_id="imports-create",
    responses=responses(401, 403, 409, 413, 422, 503),
    openapi_extra=_MULTIPART_BODY,
)
def import_file(
    request: Request,
    kind: Kind,
    actor: SecretariatBeforeWork,
    upload: UploadDep,
    session: SessionDep,
    settings: SettingsDep,
    dry_run: Annotated[
        bool, Query(description="Check every row and report what would change; write nothing")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="Retry-safe key: the same key and file replay the first answer",
        ),
    ] = None,
) -> ImportReport:
    """Import a CSV or XLSX file of one kind; any invalid row and nothing is written (422)."""
    # Read and check the whole file first, in no transaction: on SQLite the write
    # transaction below holds the database's only write lock, so it starts only now.
    parsed = service.read_file(kind, upload.data, upload.filename, dry_run=dry_run)
    idem = idempotency(session, actor, settings, _fingerprint(request, upload), idempotency_key)
    report = service.run_import(session, actor, parsed, dry_run=dry_run)
    if idem.record is not None:
        idem.record.status_code = 200
        idem.record.body = report.model_dump_json()
        session.add(idem.record)
        session.flush()
    return report
