"""Spreadsheet columns per kind, the row models that check them, and the import report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyUrl, BaseModel, EmailStr, Field, StringConstraints

from vpitracker.recommendations.schemas import ProvisionKeys, RaisedBy
from vpitracker.types import Code, LongText, OptionalLongText, RequestModel, ShortText, Title
from vpitracker.vocab import GovernmentResponse, MinistryKind, Priority, ReportedStatus, Verdict


class Kind(StrEnum):
    """What a file holds; also the export's file and sheet names."""

    ministries = "ministries"
    recommendations = "recommendations"
    commitments = "commitments"
    status_updates = "status-updates"
    assessments = "assessments"


CellType = Literal["text", "list", "date", "datetime", "int"]


@dataclass(frozen=True)
class Column:
    name: str
    type: CellType = "text"
    # An optional column may be left out of the header altogether.
    optional: bool = False


COLUMNS: dict[Kind, tuple[Column, ...]] = {
    Kind.ministries: (
        Column("code"),
        Column("name"),
        Column("kind"),
        Column("parent_code"),
        Column("contact_email"),
    ),
    Kind.recommendations: (
        Column("code"),
        Column("title"),
        Column("text"),
        Column("source"),
        Column("source_date", "date"),
        Column("raised_by", "list"),
        Column("provision_keys", "list"),
        Column("priority"),
        Column("government_response"),
        Column("response_note"),
    ),
    Kind.commitments: (
        Column("code"),
        Column("title"),
        Column("description"),
        Column("recommendation_codes", "list"),
        Column("lead_ministry_code"),
        Column("supporting_ministry_codes", "list"),
        Column("committed_on", "date"),
        Column("due_date", "date"),
        Column("indicator"),
    ),
    Kind.status_updates: (
        Column("commitment_code"),
        Column("ministry_code"),
        Column("reported_by_email"),
        Column("reported_at", "datetime"),
        Column("status"),
        Column("progress_percent", "int"),
        Column("summary"),
        Column("evidence_urls", "list"),
        Column("in_reply_to", "datetime", optional=True),
    ),
    Kind.assessments: (
        Column("commitment_code"),
        Column("assessed_by_email"),
        Column("assessed_at", "datetime"),
        Column("verdict"),
        Column("assessed_status"),
        Column("rationale"),
        Column("evidence_urls", "list"),
    ),
}


def column_names(kind: Kind) -> list[str]:
    return [c.name for c in COLUMNS[kind]]


# Ministry codes are stored in 32 characters.
MinistryCodeText = Annotated[Code, StringConstraints(max_length=32)]


def _http_only(url: AnyUrl) -> str:
    if url.scheme not in ("http", "https"):
        raise ValueError("evidence URLs must be http or https")
    return str(url)


EvidenceUrl = Annotated[AnyUrl, AfterValidator(_http_only)]
EvidenceUrls = Annotated[list[EvidenceUrl], Field(max_length=20)]
CodeList = Annotated[list[Code], Field(max_length=100)]
MinistryCodeList = Annotated[list[MinistryCodeText], Field(max_length=100)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320)]


class MinistryRow(RequestModel):
    code: MinistryCodeText
    name: ShortText
    kind: MinistryKind
    parent_code: MinistryCodeText | None = None
    contact_email: EmailStr | None = None


class RecommendationRow(RequestModel):
    code: Code
    title: Title
    text: LongText
    source: ShortText
    source_date: date | None = None
    raised_by: RaisedBy = Field(default_factory=list)
    provision_keys: ProvisionKeys = Field(default_factory=list)
    priority: Priority = Priority.medium
    government_response: GovernmentResponse = GovernmentResponse.pending
    response_note: OptionalLongText | None = None


class CommitmentRow(RequestModel):
    code: Code
    title: Title
    description: LongText
    recommendation_codes: CodeList = Field(default_factory=list)
    lead_ministry_code: MinistryCodeText
    supporting_ministry_codes: MinistryCodeList = Field(default_factory=list)
    committed_on: date | None = None
    due_date: date
    indicator: LongText


class StatusUpdateRow(RequestModel):
    commitment_code: Code
    ministry_code: MinistryCodeText
    reported_by_email: Email
    reported_at: datetime
    status: ReportedStatus
    progress_percent: Annotated[int, Field(ge=0, le=100)]
    summary: LongText
    evidence_urls: EvidenceUrls = Field(default_factory=list)
    in_reply_to: datetime | None = None


class AssessmentRow(RequestModel):
    commitment_code: Code
    assessed_by_email: Email
    assessed_at: datetime
    verdict: Verdict
    assessed_status: ReportedStatus
    rationale: LongText
    evidence_urls: EvidenceUrls = Field(default_factory=list)


ROW_MODELS: dict[Kind, type[RequestModel]] = {
    Kind.ministries: MinistryRow,
    Kind.recommendations: RecommendationRow,
    Kind.commitments: CommitmentRow,
    Kind.status_updates: StatusUpdateRow,
    Kind.assessments: AssessmentRow,
}


class RowError(BaseModel):
    """One problem: ``loc`` is ``[row, column]`` as the spreadsheet shows them."""

    loc: list[str | int]
    msg: str


class ImportCounts(BaseModel):
    created: int
    updated: int
    unchanged: int


class ImportReport(BaseModel):
    """What an import did (or, on a dry run, would do)."""

    kind: Kind
    dry_run: bool
    written: bool = Field(
        description="True only when the rows were saved; a dry run or a rejected file "
        "writes nothing (and then lists nothing as created or updated)"
    )
    rows: int = Field(description="Data rows read (blank rows are skipped)")
    counts: ImportCounts
    created: list[str] = Field(description="Codes (or commitment@time keys) created")
    updated: list[str] = Field(description="Codes whose record was edited")
    unchanged: list[str] = Field(description="Rows that matched the database exactly")
    errors: list[RowError] = Field(default_factory=list)


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    jsonl = "jsonl"
