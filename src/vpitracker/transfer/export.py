"""Export every kind with the same columns the importer reads (docs/import-formats.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlmodel import Session

from vpitracker.transfer import formats, repository
from vpitracker.transfer.schemas import ExportFormat, Kind, column_names

Progress = Callable[[int, int], None]


def _codes(ids: set[int], code_of: dict[int, str]) -> list[str]:
    return sorted(code_of[i] for i in ids if i in code_of)


def export_rows(session: Session, kind: Kind) -> Iterator[dict[str, Any]]:
    """The rows of one kind, with the same columns the importer reads."""
    if kind is Kind.ministries:
        ministries = repository.ministries(session)
        code_of = {m.id: m.code for m in ministries}
        for m in ministries:
            yield {
                "code": m.code,
                "name": m.name,
                "kind": m.kind,
                "parent_code": code_of.get(m.parent_id) if m.parent_id else None,
                "contact_email": m.contact_email,
            }
    elif kind is Kind.recommendations:
        provisions = repository.provisions_by_recommendation(session)
        for r in repository.recommendations(session):
            yield {
                **r.model_dump(include=set(column_names(kind))),
                "provision_keys": provisions.get(r.id or 0, []),
            }
    elif kind is Kind.commitments:
        recs_of, support_of = repository.commitment_links(session)
        ministry_code = {m.id or 0: m.code for m in repository.ministries(session)}
        rec_code = {r.id or 0: r.code for r in repository.recommendations(session)}
        for c in repository.commitments(session):
            yield {
                **c.model_dump(include=set(column_names(kind))),
                "recommendation_codes": _codes(recs_of.get(c.id or 0, set()), rec_code),
                "lead_ministry_code": ministry_code[c.lead_ministry_id],
                "supporting_ministry_codes": _codes(
                    support_of.get(c.id or 0, set()), ministry_code
                ),
            }
    elif kind is Kind.status_updates:
        for u in repository.status_update_rows(session):
            yield {
                "commitment_code": u.commitment_code,
                "ministry_code": u.ministry_code,
                "reported_by_email": u.reported_by_email,
                "reported_at": u.update.reported_at,
                "status": u.update.status,
                "progress_percent": u.update.progress_percent,
                "summary": u.update.summary,
                "evidence_urls": [e["url"] for e in u.update.evidence],
                "in_reply_to": u.in_reply_to,
            }
    else:
        for a in repository.assessment_rows(session):
            yield {
                "commitment_code": a.commitment_code,
                "assessed_by_email": a.assessed_by_email,
                "assessed_at": a.assessment.assessed_at,
                "verdict": a.assessment.verdict,
                "assessed_status": a.assessment.assessed_status,
                "rationale": a.assessment.rationale,
                "evidence_urls": [e["url"] for e in a.assessment.evidence],
            }


def export_file_names(fmt: ExportFormat) -> list[str]:
    if fmt is ExportFormat.xlsx:
        return ["vpitracker.xlsx"]
    return [f"{kind.value}.{fmt.value}" for kind in Kind]


def export(
    session: Session, fmt: ExportFormat, out_dir: Path, *, progress: Progress | None = None
) -> dict[str, int]:
    """Write every kind to ``out_dir``; returns rows written per file (or sheet)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds = list(Kind)

    def rows_of(kind: Kind) -> Iterator[dict[str, Any]]:
        yield from export_rows(session, kind)
        if progress is not None:
            progress(kinds.index(kind) + 1, len(kinds))

    if fmt is ExportFormat.xlsx:
        counts = formats.write_xlsx(
            out_dir / "vpitracker.xlsx",
            ((kind.value, column_names(kind), rows_of(kind)) for kind in kinds),
        )
        return {f"vpitracker.xlsx:{sheet}": n for sheet, n in counts.items()}
    writer = formats.write_csv if fmt is ExportFormat.csv else formats.write_jsonl
    written: dict[str, int] = {}
    for kind in kinds:
        name = f"{kind.value}.{fmt.value}"
        written[name] = writer(out_dir / name, column_names(kind), rows_of(kind))
    return written
