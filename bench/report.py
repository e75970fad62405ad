"""Markdown from result files: one run's tables, and the README's results section."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
DASH = "-"
DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _ms(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _num(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _machine(result: dict[str, Any]) -> str:
    m = result["machine"]
    db = DB_NAMES.get(result["db"], result["db"])
    engine = (
        f"SQLite {m['sqlite']}" if result["db"] == "sqlite" else f"PostgreSQL {m['postgresql']}"
    )
    return (
        f"{m['nproc']} CPUs ({m.get('cpu_model') or 'unknown model'}), "
        f"{m['mem_total_gib']} GiB RAM, {m['os']}, Python {m['python']}, {engine}; "
        f"{db} database `{result['database']}`; load average (1 min) "
        f"{_load(m.get('loadavg_at_start'))} at start, {_load(m.get('loadavg_at_end'))} at end"
    )


def _load(values: list[float] | None) -> str:
    return DASH if not values else f"{values[0]:.1f}"


def _app(result: dict[str, Any]) -> str:
    app = result.get("app")
    if not app:
        return "App source: not recorded."
    return (
        f"App source fingerprint `{app['source_sha256_12']}` ({app['files']} files of "
        f"src/vpitracker and migrations; {len(app['migrations'])} migrations)."
    )


def _dataset(result: dict[str, Any]) -> list[str]:
    d = result["dataset"]
    size = d["size"]
    counts = d.get("counts_before_writes", {})
    lines = [
        f"Dataset {size['name']} (seed {d['seed']}): {counts.get('ministry', 0):,} ministries, "
        f"{counts.get('recommendation', 0):,} recommendations, "
        f"{counts.get('commitment', 0):,} commitments, "
        f"{counts.get('status_update', 0):,} status updates, "
        f"{counts.get('assessment', 0):,} assessments.",
    ]
    if d.get("reused"):
        lines.append("Database reused from an earlier run (no load timing).")
    else:
        lines.append(
            f"Load: migrate {_num(d['migrate_seconds'], 2)} s, bulk load "
            f"{_num(d['load_seconds'], 2)} s ({d['rows_per_s']:,} rows/s), "
            f"commitment_latest refresh {_num(d.get('refresh_latest_seconds'), 2)} s, "
            f"notification catch-up {_num(d.get('caught_up_seconds'), 2)} s "
            f"({d['rows_loaded'].get('outbox_event.caught_up', 0):,} events)"
            + (
                f", VACUUM ANALYZE {_num(d['analyze_seconds'], 2)} s."
                if result["db"] == "postgres"
                else "."
            )
        )
    state = d.get("derived_state")
    if state and "error" in state:
        lines.append(f"Derived state: not computed ({state['error']}).")
    elif state:
        statuses = ", ".join(f"{k} {v:,}" for k, v in state["reported_status"].items())
        lines.append(
            f"Derived state at run time: {statuses}; overdue {state['overdue']:,}, "
            f"stale {state['stale']:,}, contested {state['contested']:,} "
            f"(busiest ministry {d['busiest_ministry_id']} leads "
            f"{d['busiest_ministry_commitments']:,})."
        )
    return lines


def _endpoint_rows(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for e in result.get("endpoints", []):
        raw = e.get("raw") or {}
        # No statements (the liveness baseline): a ratio to nothing means nothing.
        ratio = e.get("ratio_p50") if e.get("statements") else None
        short = f" (n={e['api']['n']}, time budget)" if e.get("cut_short") else ""
        expected = 201 if e["method"] == "POST" else 200
        if e["http_status"] != [expected]:
            short += f" (HTTP {', '.join(map(str, e['http_status']))}!)"
        rows.append(
            [
                f"`{e['method']} {e['url']}`{short}",
                str(e["statements"]),
                _ms(e["api"]["p50_ms"]),
                _ms(e["api"]["p95_ms"]),
                _ms(raw.get("p50_ms")),
                _ms(raw.get("p95_ms")),
                DASH if ratio is None else f"{ratio:.2f}",
            ]
        )
    return rows


def render_run(result: dict[str, Any]) -> str:
    """One run as Markdown: machine, dataset, endpoint table, chain cost, skipped."""
    db = DB_NAMES.get(result["db"], result["db"])
    opts = result["options"]
    out = [
        f"### Run `{result['run']}` — size {result['size']} on {db}",
        "",
        f"Machine: {_machine(result)}.",
        "",
        _app(result),
        "",
        *_dataset(result),
        "",
        f"Reads: N = {opts['n']} after {opts['warmup']} warm-up requests, api and raw "
        "alternating; times in ms.",
        "",
    ]
    out += _table(
        ("endpoint", "stmts", "api p50", "api p95", "raw p50", "raw p95", "api/raw p50"),
        _endpoint_rows(result),
    )
    for note in result.get("notes") or []:
        out += ["", f"Note: {note}."]
    skipped = result.get("skipped") or []
    if skipped:
        out += ["", "Not timed: " + "; ".join(f"`{s['path']}` ({s['reason']})" for s in skipped)]
    mem = result.get("memory") or []
    if mem:
        out += [
            "",
            "Server memory while 4 callers stream the same report at once (RSS of the "
            "serve process and its workers, sampled every 20 ms):",
            "",
        ]
        out += _table(
            ("report", "status", "MiB each", "first byte s (max)", "s (max)",
             "RSS before MiB", "RSS peak MiB", "growth MiB"),
            [
                [
                    f"`{m['path']}?format={m['format']}` x{m['parallel']}",
                    ",".join(str(s) for s in m["statuses"]),
                    _num(m["bytes_each"] / 1048576),
                    _num(m["first_byte_s_max"], 3),
                    _num(m["seconds_max"], 1),
                    _num(m["rss_before_mib"]),
                    _num(m["rss_peak_mib"]),
                    _num(m["rss_growth_mib"]),
                ]
                for m in mem
            ],
        )  # fmt: skip
    c = result.get("chain")
    if c:
        ip, http = c["in_process"], c["http"]
        seq, conc = http["sequential"], http["concurrent"]
        out += ["", "Chain cost (status-update posts):", ""]
        out += _table(
            ("mode", "posts", "posts/s", "p50 ms", "p95 ms"),
            [
                [
                    "in-process, with audit append",
                    str(ip["with_audit"]["posts"]),
                    _num(ip["with_audit"]["posts_per_s"]),
                    _ms(ip["with_audit"]["latency"]["p50_ms"]),
                    _ms(ip["with_audit"]["latency"]["p95_ms"]),
                ],
                [
                    "in-process, audit.record no-op",
                    str(ip["without_audit"]["posts"]),
                    _num(ip["without_audit"]["posts_per_s"]),
                    _ms(ip["without_audit"]["latency"]["p50_ms"]),
                    _ms(ip["without_audit"]["latency"]["p95_ms"]),
                ],
                [
                    "HTTP, sequential",
                    str(seq["created"]),
                    _num(seq["posts_per_s"]),
                    _ms(seq["latency"]["p50_ms"]),
                    _ms(seq["latency"]["p95_ms"]),
                ],
                [
                    f"HTTP, {conc['threads']} client threads",
                    str(conc["created"]),
                    _num(conc["posts_per_s"]),
                    _ms(conc["latency"]["p50_ms"]),
                    _ms(conc["latency"]["p95_ms"]),
                ],
            ],
        )
        out += [
            "",
            f"With/without audit: {ip['ratio_with_over_without']:.2f} times the throughput "
            f"({ip['added_ms_per_post_p50']:+.2f} ms per post at p50)." + _record_share(ip),
        ]
        errors = {**seq["errors"], **conc["errors"]}
        if errors:
            out.append(f"HTTP errors: {errors}.")
        out.append(
            f"Server: `vpitracker serve --workers {opts.get('server_workers', 1)}`, "
            f"{conc['threads']} concurrent clients for the concurrent posts."
        )
    verify = result.get("chain_verify")
    if verify:
        out += [
            "",
            f"Audit verify after the run's writes: ok={verify.get('ok')}, "
            f"{verify.get('checked', '?')} events checked, first bad seq "
            f"{verify.get('first_bad_seq')}"
            + (f" ({verify['detail']})" if verify.get("detail") else "")
            + ".",
        ]
    return "\n".join(out) + "\n"


def _record_share(chain: dict[str, Any]) -> str:
    call = chain["with_audit"].get("record_call")
    if not call:
        return ""
    return (
        f" Inside `audit.record` itself: p50 {_ms(call['p50_ms'])} ms, "
        f"mean {_ms(call['mean_ms'])} ms per post."
    )


def render_section(results: Sequence[dict[str, Any]]) -> str:
    parts = [
        "_Generated by `python -m bench report` from: "
        + ", ".join(f"`{r['run']}.json`" for r in results)
        + "._",
        "",
    ]
    for r in results:
        parts.append(render_run(r))
    return "\n".join(parts)


def load_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    results = [json.loads(p.read_text()) for p in paths]
    order = {"S": 0, "M": 1, "L": 2}
    return sorted(results, key=lambda r: (order.get(r["size"], 9), r["db"], r["started_at"]))


def update_readme(readme: Path, section: str) -> None:
    """Replace the text between the results markers in ``readme``."""
    content = readme.read_text()
    head, sep, rest = content.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{readme} has no {START} … {END} markers")
    readme.write_text(f"{head}{START}\n{section.rstrip()}\n{END}{tail}")
