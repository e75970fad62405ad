"""A deterministic, national-scale synthetic dataset, streamed into a fresh database.

Everything comes from one seeded ``random.Random``, so a size and a seed always give
the same rows. Rows carry explicit ids (so links need no round trip) and are written
in batches of ``BATCH``: SQLAlchemy Core ``executemany`` on SQLite, ``COPY`` on
PostgreSQL. Status updates and assessments are emitted in global time order, the
order in which a live system would have stored them, while only compact per-commitment
counters stay in memory (size L: one sorted list of 1M packed integers).
"""

from __future__ import annotations

import importlib
import json
import random
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from types import ModuleType
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy import JSON, Connection, Engine, bindparam, text, update

from bench.databases import BenchDatabase, DbKind
from bench.sizes import Size
from vpitracker.auth.passwords import hash_password
from vpitracker.commitments import repository as commitments_repository
from vpitracker.db import unit_of_work
from vpitracker.models import metadata


def _latest_module() -> ModuleType:
    """Where the app keeps its rebuild hook: ``commitments.latest`` since the
    repository's split, ``commitments.repository`` before it."""
    try:
        return importlib.import_module("vpitracker.commitments.latest")
    except ImportError:
        return commitments_repository


BATCH = 10_000
# Data spans January 2024 to the end of November 2026.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
DAY = 86_400
END_S = int((END - EPOCH).total_seconds())
# Commitment id packed under the timestamp in one integer sort key.
CID_BITS = 20
OFFICER_PASSWORD = "bench-officer-password"

STATUS_NOT_STARTED, STATUS_IN_PROGRESS, STATUS_COMPLETED = "not_started", "in_progress", "completed"
STATUS_STALLED, STATUS_CANCELLED = "stalled", "cancelled"
OUTCOMES = (STATUS_IN_PROGRESS, STATUS_COMPLETED, STATUS_STALLED, STATUS_CANCELLED)
OUTCOME_WEIGHTS = (61, 25, 10, 4)
ALL_STATUSES = (
    STATUS_NOT_STARTED,
    STATUS_IN_PROGRESS,
    STATUS_COMPLETED,
    STATUS_STALLED,
    STATUS_CANCELLED,
)
VERDICTS = ("agrees", "partially_agrees", "disputes", "insufficient_evidence")
VERDICT_WEIGHTS = (40, 25, 20, 15)

MINISTRY_BASES = (
    ("ministry", "Ministry of Interior and National Administration"),
    ("state_department", "State Department for Immigration and Citizen Services"),
    ("agency", "National Police Service"),
    ("agency", "Directorate of Criminal Investigations"),
    ("independent_office", "Office of the Director of Public Prosecutions"),
    ("agency", "Financial Reporting Centre"),
    ("independent_office", "Ethics and Anti-Corruption Commission"),
    ("agency", "Kenya Revenue Authority"),
    ("judiciary", "Judiciary"),
    ("parliament", "National Assembly"),
    ("ministry", "Ministry of Labour and Social Protection"),
    ("state_department", "State Department for Diaspora Affairs"),
    ("ministry", "Office of the Attorney-General and Department of Justice"),
    ("agency", "Witness Protection Agency"),
    ("agency", "Kenya Coast Guard Service"),
    ("ministry", "Ministry of Foreign and Diaspora Affairs"),
    ("agency", "Assets Recovery Agency"),
    ("agency", "National Counter Trafficking in Persons Secretariat"),
    ("county", "County Government of Mombasa"),
    ("county", "County Government of Busia"),
    ("other", "National Crime Research Centre"),
    ("ministry", "Ministry of Defence"),
    ("agency", "Kenya National Focal Point on Small Arms and Light Weapons"),
    ("state_department", "State Department for Correctional Services"),
    ("other", "Central Bank of Kenya"),
)
TOPICS = (
    "trafficking in persons",
    "smuggling of migrants",
    "illicit firearms",
    "money laundering",
    "corruption in border management",
    "witness protection",
    "victim identification and referral",
    "mutual legal assistance",
    "confiscation of criminal proceeds",
    "data on organized crime",
    "training of prosecutors",
    "protection of smuggled migrants",
    "marking and record-keeping of firearms",
    "beneficial ownership transparency",
)
ACTIONS = (
    "Adopt and resource",
    "Review and amend",
    "Establish",
    "Publish annual data on",
    "Train officers in",
    "Strengthen coordination on",
    "Fund civil society services for",
    "Create a national referral mechanism for",
)
ORGANIZATIONS = (
    "HAART Kenya",
    "Awareness Against Human Trafficking",
    "Kituo Cha Sheria",
    "Transparency International Kenya",
    "Kenya Human Rights Commission",
    "Trace Kenya",
    "Solidarity with Women in Distress",
    "Kenya Citizens and Foreign Nationals Rights Watch",
    "Mombasa Women Empowerment Network",
    "Africa Centre for Open Governance",
)
UPDATE_PHRASES = (
    "Draft circulated to stakeholders for validation.",
    "Budget line approved in the supplementary estimates.",
    "Inter-agency task force met and agreed a work plan.",
    "Training delivered to officers in three counties.",
    "Regulations gazetted; implementation guidelines pending.",
    "Procurement delayed by the late release of funds.",
    "Data collection tool piloted at two border points.",
    "Cabinet memorandum submitted for approval.",
    "Awaiting legal review by the Attorney-General's office.",
    "Public participation forums held in Nairobi and Mombasa.",
)
RATIONALE_PHRASES = (
    "Members on the ground confirm the reported activity.",
    "No public document supports the reported progress.",
    "The training happened but covered fewer officers than reported.",
    "Funds were approved but have not been disbursed.",
    "The evidence link does not show what the update claims.",
    "Survivors' organizations report no change in services.",
)


class Sink(Protocol):
    """Where generated rows go: one database, one transaction."""

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None: ...

    def set_replies(self, pairs: list[tuple[int, int]]) -> None: ...

    def finish(self) -> None: ...


@dataclass
class LoadResult:
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    refresh_seconds: float | None = None
    caught_up_seconds: float | None = None
    analyze_seconds: float = 0.0


@dataclass
class _Plan:
    """Per-commitment counters for the time-ordered update stream (compact arrays)."""

    planned: array[int]
    emitted: array[int]
    progress: bytearray
    outcome: bytearray
    lead: array[int]
    support: dict[int, tuple[int, ...]]
    open_dispute: dict[int, tuple[int, int]] = field(default_factory=dict)


def _at(seconds: int) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def _date_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


class Generator:
    """Produces every table's rows for one size, in foreign-key order."""

    def __init__(self, size: Size, seed: int, provision_keys: Sequence[str]) -> None:
        self.size = size
        self.seed = seed
        self.rng = random.Random(seed)
        self.provision_keys = sorted(provision_keys)
        self.n_officers = max(5, size.ministries // 5)
        self.n_members = max(5, size.ministries // 10)
        self.officer_ids = list(range(1, self.n_officers + 1))
        self.member_ids = list(range(self.n_officers + 1, self.n_officers + self.n_members + 1))
        self.viewer_id = self.n_officers + self.n_members + 1

    def officer_for(self, ministry_id: int) -> int:
        return self.officer_ids[(ministry_id - 1) % self.n_officers]

    def users(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        password_hash = hash_password(OFFICER_PASSWORD)
        created = EPOCH - timedelta(days=30)
        users: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        for i, uid in enumerate(self.officer_ids, start=1):
            users.append(
                (uid, f"officer-{i:04d}@bench.example.org", f"Focal Point {i}",
                 "government_officer", "Government of Kenya", password_hash, True,
                 created, created, 1)
            )  # fmt: skip
        for m in range(1, self.size.ministries + 1):
            links.append((self.officer_for(m), m))
        for i, uid in enumerate(self.member_ids, start=1):
            org = ORGANIZATIONS[(i - 1) % len(ORGANIZATIONS)]
            users.append(
                (uid, f"member-{i:04d}@bench.example.org", f"Alliance Member {i}",
                 "alliance_member", org, password_hash, True, created, created, 1)
            )  # fmt: skip
        users.append(
            (self.viewer_id, "viewer@bench.example.org", "Dashboard Viewer", "viewer",
             None, password_hash, True, created, created, 1)
        )  # fmt: skip
        return users, links

    def ministries(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        ministry_ids: list[int] = []
        created = EPOCH - timedelta(days=60)
        for mid in range(1, self.size.ministries + 1):
            kind, base = MINISTRY_BASES[(mid - 1) % len(MINISTRY_BASES)]
            round_ = (mid - 1) // len(MINISTRY_BASES)
            name = base if round_ == 0 else f"{base} (unit {round_ + 1})"
            parent = (
                self.rng.choice(ministry_ids)
                if kind == "state_department" and ministry_ids
                else None
            )
            if kind == "ministry":
                ministry_ids.append(mid)
            rows.append(
                (mid, f"M{mid:04d}", name, kind, parent, f"focal-{mid}@bench.example.org",
                 created, created, None, 1)
            )  # fmt: skip
        return rows

    def recommendations(
        self,
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng = self.rng
        recs: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        for rid in range(1, self.size.recommendations + 1):
            topic = rng.choice(TOPICS)
            action = rng.choice(ACTIONS)
            source_date = _date_between(rng, date(2024, 1, 10), date(2025, 12, 15))
            created = datetime.combine(source_date, datetime.min.time(), tzinfo=UTC)
            archived = created + timedelta(days=200) if rng.random() < 0.02 else None
            title = f"{action} measures on {topic}"
            body = (
                f"The alliance recommends that the Government {action.lower()} measures on "
                f"{topic}, with a published timeline, a responsible office and a budget, "
                f"and reports on progress to the alliance every quarter. ({rid})"
            )
            raised_by = rng.sample(ORGANIZATIONS, rng.randint(1, 3))
            priority = rng.choices(("high", "medium", "low"), (30, 50, 20))[0]
            response = rng.choices(
                ("supported", "partially_supported", "noted", "pending"), (50, 20, 15, 15)
            )[0]
            note = "Accepted at the VPI review meeting." if response != "pending" else None
            recs.append(
                (rid, f"VPI-R-{rid:06d}", title, body, "VPI Kenya working group", source_date,
                 raised_by, priority, response, note, created, created, archived, 1)
            )  # fmt: skip
            for key in rng.sample(self.provision_keys, rng.randint(1, 3)):
                links.append((rid, key))
            if len(recs) >= BATCH:
                yield recs, links
                recs, links = [], []
        if recs:
            yield recs, links

    def commitments(
        self,
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """Commitments with their links; fills ``self.plan`` for the update stream."""
        rng = self.rng
        n = self.size.commitments
        n_m = self.size.ministries
        # Skewed workload: a few ministries lead most commitments (Zipf-like).
        order = list(range(1, n_m + 1))
        rng.shuffle(order)
        cum = list(accumulate(1.0 / (rank**0.9) for rank in range(1, n_m + 1)))
        lead = array("i", [0]) * (n + 1)
        support: dict[int, tuple[int, ...]] = {}
        self._committed = array("i", [0]) * (n + 1)
        rows: list[tuple[Any, ...]] = []
        rec_links: list[tuple[Any, ...]] = []
        sup_links: list[tuple[Any, ...]] = []
        for cid in range(1, n + 1):
            lead_id = rng.choices(order, cum_weights=cum)[0]
            committed_on = _date_between(rng, date(2024, 1, 15), date(2026, 9, 30))
            due = committed_on + timedelta(days=rng.randint(120, 900))
            created = datetime.combine(committed_on, datetime.min.time(), tzinfo=UTC)
            archived = created + timedelta(days=100) if rng.random() < 0.015 else None
            topic = rng.choice(TOPICS)
            rows.append(
                (cid, f"C-{cid:06d}", f"{rng.choice(ACTIONS)} action on {topic}",
                 f"The Government commits to act on {topic} as recommended ({cid}).",
                 lead_id, committed_on, due,
                 f"Published evidence that the measures on {topic} are in force",
                 created, created, archived, 1)
            )  # fmt: skip
            n_recs = rng.choices((1, 2, 3), (70, 25, 5))[0]
            n_rec = self.size.recommendations
            for rid in sorted({rng.randint(1, n_rec) for _ in range(n_recs)}):
                rec_links.append((cid, rid))
            n_sup = rng.choices((0, 1, 2, 3), (40, 35, 18, 7))[0]
            sup = tuple(sorted({rng.randint(1, n_m) for _ in range(n_sup)} - {lead_id}))
            for mid in sup:
                sup_links.append((cid, mid))
            lead[cid] = lead_id
            if sup:
                support[cid] = sup
            self._committed[cid] = (committed_on - EPOCH.date()).days
            if len(rows) >= BATCH:
                yield rows, rec_links, sup_links
                rows, rec_links, sup_links = [], [], []
        if rows:
            yield rows, rec_links, sup_links
        self._lead = lead
        self._support = support

    def _plan(self) -> tuple[_Plan, list[int]]:
        """How many updates each commitment gets, when, and how its story ends."""
        rng = self.rng
        n = self.size.commitments
        total = self.size.status_updates
        weights = [0.0] * (n + 1)
        for cid in range(1, n + 1):
            # About 8% of commitments never get an update.
            weights[cid] = 0.0 if rng.random() < 0.08 else rng.expovariate(1.0) + 0.05
        wsum = sum(weights)
        planned = array("i", (int(total * w / wsum) for w in weights))
        eligible = [cid for cid in range(1, n + 1) if weights[cid] > 0]
        for cid in rng.sample(eligible, total - sum(planned)):
            planned[cid] += 1
        outcome = bytearray(n + 1)
        keys = array("q")
        for cid in range(1, n + 1):
            k = planned[cid]
            if k == 0:
                continue
            outcome[cid] = rng.choices(range(len(OUTCOMES)), OUTCOME_WEIGHTS)[0]
            start = min(self._committed[cid] * DAY + rng.randint(7, 60) * DAY, END_S - DAY)
            quiet = rng.random() < 0.25  # went quiet: candidates for `stale`
            back = rng.randint(91, 420) if quiet else rng.randint(0, 75)
            last = END_S - back * DAY
            if last <= start:
                last = min(END_S, start + rng.randint(1, 30) * DAY)
            for ts in sorted(rng.randint(start, last) for _ in range(k)):
                keys.append((ts << CID_BITS) | cid)
        plan = _Plan(
            planned=planned,
            emitted=array("i", [0]) * (n + 1),
            progress=bytearray(n + 1),
            outcome=outcome,
            lead=self._lead,
            support=self._support,
        )
        return plan, sorted(keys)

    def updates_and_assessments(
        self,
    ) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """Status updates and assessments in global time order; replies collected aside."""
        rng = self.rng
        plan, keys = self._plan()
        self.replies: list[tuple[int, int]] = []
        updates: list[tuple[Any, ...]] = []
        assessments: list[tuple[Any, ...]] = []
        aid = 0
        import_cutoff = int((datetime(2025, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())
        mask = (1 << CID_BITS) - 1
        for uid, key in enumerate(keys, start=1):
            ts, cid = key >> CID_BITS, key & mask
            j, k = plan.emitted[cid], plan.planned[cid]
            plan.emitted[cid] = j + 1
            status, progress = self._next_status(plan, cid, j, k)
            sup = plan.support.get(cid, ())
            ministry = rng.choice(sup) if sup and rng.random() < 0.15 else plan.lead[cid]
            dispute = plan.open_dispute.get(cid)
            if dispute is not None and dispute[1] < ts:
                del plan.open_dispute[cid]
                if rng.random() < 0.6:
                    self.replies.append((uid, dispute[0]))
            evidence = [
                {"url": f"https://bench.example.org/docs/{uid}-{e}", "title": f"Report {e + 1}"}
                for e in range(rng.choices((0, 1, 2), (50, 35, 15))[0])
            ]
            updates.append(
                (uid, cid, ministry, status, progress,
                 f"{rng.choice(UPDATE_PHRASES)} {rng.choice(UPDATE_PHRASES)}",
                 evidence, None, self.officer_for(ministry), _at(ts), ts < import_cutoff)
            )  # fmt: skip
            if rng.random() < 0.25:
                aid += 1
                at = min(END_S, ts + rng.randint(3_600, 30 * DAY))
                verdict = rng.choices(VERDICTS, VERDICT_WEIGHTS)[0]
                assessed = status if verdict == "agrees" else rng.choice(ALL_STATUSES)
                assessments.append(
                    (aid, cid, uid if rng.random() < 0.9 else None, verdict, assessed,
                     rng.choice(RATIONALE_PHRASES), [], rng.choice(self.member_ids),
                     _at(at), at < import_cutoff)
                )  # fmt: skip
                if verdict == "disputes":
                    plan.open_dispute[cid] = (aid, at)
            if len(updates) >= BATCH:
                yield updates, assessments
                updates, assessments = [], []
        if updates or assessments:
            yield updates, assessments

    def _next_status(self, plan: _Plan, cid: int, j: int, k: int) -> tuple[str, int]:
        rng = self.rng
        before = plan.progress[cid]
        if j == k - 1:
            final = OUTCOMES[plan.outcome[cid]]
            if final == STATUS_COMPLETED:
                return final, 100
            if final == STATUS_IN_PROGRESS:
                progress = min(95, max(before, before + rng.randint(0, 20)))
                plan.progress[cid] = progress
                return final, progress
            return final, before
        if j == 0 and rng.random() < 0.05:
            return STATUS_NOT_STARTED, 0
        progress = min(95, max(before, int(90 * (j + 1) / k) + rng.randint(-5, 5)))
        plan.progress[cid] = progress
        status = STATUS_STALLED if rng.random() < 0.08 else STATUS_IN_PROGRESS
        return status, progress


COLUMNS: dict[str, tuple[str, ...]] = {
    "user_account": ("id", "email", "full_name", "role", "organization", "password_hash",
                     "is_active", "created_at", "updated_at", "version"),
    "user_ministry": ("user_id", "ministry_id"),
    "ministry": ("id", "code", "name", "kind", "parent_id", "contact_email", "created_at",
                 "updated_at", "archived_at", "version"),
    "recommendation": ("id", "code", "title", "text", "source", "source_date", "raised_by",
                       "priority", "government_response", "response_note", "created_at",
                       "updated_at", "archived_at", "version"),
    "recommendation_provision": ("recommendation_id", "provision_key"),
    "commitment": ("id", "code", "title", "description", "lead_ministry_id", "committed_on",
                   "due_date", "indicator", "created_at", "updated_at", "archived_at",
                   "version"),
    "commitment_recommendation": ("commitment_id", "recommendation_id"),
    "commitment_support": ("commitment_id", "ministry_id"),
    "status_update": ("id", "commitment_id", "ministry_id", "status", "progress_percent",
                      "summary", "evidence", "in_reply_to_assessment_id", "reported_by",
                      "reported_at", "imported"),
    "assessment": ("id", "commitment_id", "status_update_id", "verdict", "assessed_status",
                   "rationale", "evidence", "assessed_by", "assessed_at", "imported"),
}  # fmt: skip
SERIAL_TABLES = ("user_account", "ministry", "recommendation", "commitment", "status_update",
                 "assessment")  # fmt: skip


class SqliteSink:
    """SQLAlchemy Core ``executemany`` in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.conn: Connection = engine.connect()
        self.tx = self.conn.begin()

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.execute(
                metadata.tables[table].insert(), [dict(zip(columns, r, strict=True)) for r in rows]
            )

    def set_replies(self, pairs: list[tuple[int, int]]) -> None:
        if not pairs:
            return
        table = metadata.tables["status_update"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_update"))
            .values(in_reply_to_assessment_id=bindparam("b_assessment"))
        )
        for i in range(0, len(pairs), BATCH):
            chunk = pairs[i : i + BATCH]
            self.conn.execute(stmt, [{"b_update": u, "b_assessment": a} for u, a in chunk])

    def finish(self) -> None:
        self.tx.commit()
        self.conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresSink:
    """``COPY ... FROM STDIN`` through psycopg, in one transaction."""

    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo)
        self.json_columns = {
            (t.name, c.name)
            for t in metadata.sorted_tables
            for c in t.columns
            if isinstance(c.type, JSON)
        }

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        json_at = [i for i, c in enumerate(columns) if (table, c) in self.json_columns]
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.conn.cursor() as cur, cur.copy(stmt) as copy:
            for row in rows:
                if json_at:
                    values = list(row)
                    for i in json_at:
                        values[i] = json.dumps(values[i])
                    copy.write_row(values)
                else:
                    copy.write_row(row)

    def set_replies(self, pairs: list[tuple[int, int]]) -> None:
        with self.conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE bench_reply (u integer, a integer) ON COMMIT DROP")
            with cur.copy("COPY bench_reply (u, a) FROM STDIN") as copy:
                for pair in pairs:
                    copy.write_row(pair)
            cur.execute(
                "UPDATE status_update SET in_reply_to_assessment_id = r.a "
                "FROM bench_reply r WHERE status_update.id = r.u"
            )

    def finish(self) -> None:
        with self.conn.cursor() as cur:
            for table in SERIAL_TABLES:
                cur.execute(
                    sql.SQL(
                        "SELECT setval(pg_get_serial_sequence({}, 'id'), max(id)) FROM {}"
                    ).format(sql.Literal(table), sql.Identifier(table))
                )
        self.conn.commit()
        self.conn.close()


def provision_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(text("SELECT key FROM provision ORDER BY key"))]


def _catch_up(engine: Engine, db: BenchDatabase) -> tuple[float | None, int]:
    """The notification worker's catch-up, done before any server starts.

    A deployment that has been running has announced every commitment that is overdue
    or stale, and dispatched those events; a bulk load has not. Without this, the
    first server started on the database spends its first seconds announcing them
    (about 17,000 at M: 18 s of its worker thread's CPU, in the server's process, while
    the bench times its first endpoint). The app's own scan and dispatch do it, when
    this version of the app has them; returns the seconds and the events dispatched.
    """
    try:
        from vpitracker.config import Environment, Settings
        from vpitracker.notifications import transitions
        from vpitracker.notifications.worker import Worker
    except ImportError:
        return None, 0
    started = time.perf_counter()
    settings = Settings(env=Environment.test, secret_key="x" * 48, database_url=db.url)
    transitions.scan(engine, settings)
    worker = Worker(engine, settings)
    dispatched = 0
    try:
        while done := worker.dispatch():
            dispatched += done
    finally:
        worker.close()
    return time.perf_counter() - started, dispatched


def load(db: BenchDatabase, engine: Engine, size: Size, seed: int) -> LoadResult:
    """Generate and bulk-insert the whole dataset into a migrated, empty database."""
    result = LoadResult(seed=seed)
    started = time.perf_counter()
    gen = Generator(size, seed, provision_keys(engine))
    sink: Sink = SqliteSink(engine) if db.kind is DbKind.sqlite else PostgresSink(db.pg_conninfo)

    def put(table: str, rows: list[tuple[Any, ...]]) -> None:
        sink.write(table, COLUMNS[table], rows)
        result.rows[table] = result.rows.get(table, 0) + len(rows)

    put("ministry", gen.ministries())
    users, user_links = gen.users()
    put("user_account", users)
    put("user_ministry", user_links)
    for recs, links in gen.recommendations():
        put("recommendation", recs)
        put("recommendation_provision", links)
    for rows, rec_links, sup_links in gen.commitments():
        put("commitment", rows)
        put("commitment_recommendation", rec_links)
        put("commitment_support", sup_links)
    for updates, assessments in gen.updates_and_assessments():
        put("status_update", updates)
        put("assessment", assessments)
    sink.set_replies(gen.replies)
    result.rows["status_update.in_reply_to"] = len(gen.replies)
    sink.finish()
    result.seconds = time.perf_counter() - started
    # Derived-state caches the app keeps current on each post are rebuilt through the
    # app's own hook for rows written in bulk, when this version of the app has one.
    refresh = getattr(_latest_module(), "refresh_latest", None)
    if refresh is not None:
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            refresh(session)
        result.refresh_seconds = time.perf_counter() - started
    result.caught_up_seconds, result.rows["outbox_event.caught_up"] = _catch_up(engine, db)
    started = time.perf_counter()
    if db.kind is DbKind.postgres:
        # What autovacuum would do soon after a bulk load: planner statistics, visibility map.
        with psycopg.connect(db.pg_conninfo, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    result.analyze_seconds = time.perf_counter() - started
    return result
