"""Recommendations, commitments and their links."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlmodel import Field, SQLModel

from vpitracker.models.base import ArchivableRecord, UTCDateTime


class Recommendation(ArchivableRecord, table=True):
    __tablename__ = "recommendation"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(sa_column=Column(String(500), nullable=False))
    source_date: date | None = Field(default=None, sa_column=Column(Date, index=True))
    raised_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    priority: str = Field(sa_column=Column(String(16), nullable=False))
    government_response: str = Field(sa_column=Column(String(32), nullable=False))
    response_note: str | None = Field(default=None, sa_column=Column(Text))


class RecommendationProvision(SQLModel, table=True):
    __tablename__ = "recommendation_provision"

    recommendation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("recommendation.id", ondelete="CASCADE"), primary_key=True
        )
    )
    provision_key: str = Field(
        sa_column=Column(String(32), ForeignKey("provision.key"), primary_key=True, index=True)
    )


class Commitment(ArchivableRecord, table=True):
    __tablename__ = "commitment"
    __table_args__ = (
        # What the figures read of every counted commitment, without its wide row.
        Index(
            "ix_commitment_figures",
            "id",
            "lead_ministry_id",
            "committed_on",
            "due_date",
            "archived_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    lead_ministry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("ministry.id"), nullable=False, index=True)
    )
    committed_on: date = Field(sa_column=Column(Date, nullable=False, index=True))
    due_date: date = Field(sa_column=Column(Date, nullable=False, index=True))
    indicator: str = Field(sa_column=Column(Text, nullable=False))


class CommitmentLink(SQLModel):
    """A link table's commitment side: the first half of its key, gone with the commitment."""

    commitment_id: int = Field(foreign_key="commitment.id", ondelete="CASCADE", primary_key=True)


class CommitmentRecommendation(CommitmentLink, table=True):
    __tablename__ = "commitment_recommendation"

    recommendation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("recommendation.id"), primary_key=True, index=True)
    )


class CommitmentSupport(CommitmentLink, table=True):
    __tablename__ = "commitment_support"

    ministry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("ministry.id"), primary_key=True, index=True)
    )


class CommitmentLatest(SQLModel, table=True):
    """The newest status update and assessment of each commitment, kept current by the
    reporting service in the same transaction as the post (the row lock on the
    commitment serializes it). It lets "now" figures read one row per commitment
    instead of searching the update history; ``as_of`` figures search the history.
    """

    __tablename__ = "commitment_latest"

    commitment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commitment.id", ondelete="CASCADE"), primary_key=True)
    )
    update_id: int | None = Field(default=None, sa_column=Column(Integer))
    reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    status: str | None = Field(default=None, sa_column=Column(String(32)))
    progress_percent: int | None = Field(default=None, sa_column=Column(Integer))
    assessment_id: int | None = Field(default=None, sa_column=Column(Integer))
    assessed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    verdict: str | None = Field(default=None, sa_column=Column(String(32)))


class CommitmentFigures(SQLModel, table=True):
    """One narrow row per non-archived commitment: what every progress figure reads.

    The commitment's lead ministry and dates, the bit masks of the review clusters
    and instruments of its recommendations' provisions (``kernel.figures.BITS``), and
    its newest update's status, percentage and time and newest assessment's verdict
    and time (as ``commitment_latest``). Overdue and stale depend on the clock, so
    they are derived when read, from the dates kept here. Written in the same
    transaction as every change of what it holds (``kernel.figures``): a post or an
    assessment updates the row, a commitment's create, edit or archive and a change
    of links, a recommendation's provisions or a provision's cluster or instrument
    rewrite the rows concerned; bulk loads rebuild it with ``refresh_latest``.
    """

    __tablename__ = "commitment_figures"

    commitment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("commitment.id", ondelete="CASCADE"), primary_key=True)
    )
    lead_ministry_id: int = Field(sa_column=Column(Integer, nullable=False))
    committed_on: date = Field(sa_column=Column(Date, nullable=False))
    due_date: date = Field(sa_column=Column(Date, nullable=False))
    cluster_mask: int = Field(sa_column=Column(Integer, nullable=False))
    instrument_mask: int = Field(sa_column=Column(Integer, nullable=False))
    status: str | None = Field(default=None, sa_column=Column(String(32)))
    progress_percent: int | None = Field(default=None, sa_column=Column(Integer))
    reported_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    verdict: str | None = Field(default=None, sa_column=Column(String(32)))
    assessed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class CommitmentSpan(SQLModel):
    """What every span table has: its commitment, and when the span ended (NULL while
    the record that opened it is still the commitment's newest). The span's start and
    its key are the opening record's, named as that table names them.
    """

    commitment_id: int = Field(foreign_key="commitment.id", ondelete="CASCADE", nullable=False)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CommitmentClosedSpan(CommitmentSpan, table=True):
    """Each span during which a commitment's current update had a closed status
    (completed, cancelled): from that update's ``reported_at`` until the next
    update's (NULL while it is still the newest). Kept by the reporting service in
    the same transaction as each post, like ``commitment_latest``; the timeline
    reads these few rows instead of ordering every update of every commitment.
    """

    __tablename__ = "commitment_closed_span"
    __table_args__ = (Index("ix_commitment_closed_span_commitment_id", "commitment_id"),)

    update_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("status_update.id", ondelete="CASCADE"), primary_key=True
        )
    )
    status: str = Field(sa_column=Column(String(32), nullable=False))
    reported_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class CommitmentUpdateSpan(CommitmentSpan, table=True):
    """Each status update's span as its commitment's newest: from its ``reported_at``
    until the next update's (NULL while it is still the newest). Kept by the
    reporting service in the same transaction as each post, like
    ``commitment_latest``; figures ``as_of`` a past day read the one span current
    then per commitment (``reported_at < cutoff <= until``) instead of probing the
    history once per commitment.
    """

    __tablename__ = "commitment_update_span"
    # The lookup by commitment covers the columns a past day's figures read, so SQLite
    # answers it from the index alone (a probe per commitment, no table reads).
    __table_args__ = (
        Index("ix_commitment_update_span_until", "until", "reported_at"),
        Index(
            "ix_commitment_update_span_lookup",
            "commitment_id",
            "reported_at",
            "until",
            "update_id",
            "status",
            "progress_percent",
        ),
    )

    update_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("status_update.id", ondelete="CASCADE"), primary_key=True
        )
    )
    status: str = Field(sa_column=Column(String(32), nullable=False))
    progress_percent: int = Field(sa_column=Column(Integer, nullable=False))
    reported_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class CommitmentAssessmentSpan(CommitmentSpan, table=True):
    """Each assessment's span as its commitment's newest (``assessed_at`` until the
    next one's; NULL while newest), kept like ``commitment_update_span``.
    """

    __tablename__ = "commitment_assessment_span"
    __table_args__ = (
        Index("ix_commitment_assessment_span_until", "until", "assessed_at"),
        Index(
            "ix_commitment_assessment_span_lookup",
            "commitment_id",
            "assessed_at",
            "until",
            "verdict",
        ),
    )

    assessment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True)
    )
    verdict: str = Field(sa_column=Column(String(32), nullable=False))
    assessed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class UpdateMonth(SQLModel, table=True):
    """How many status updates were posted in each calendar month (UTC,
    ``YYYY-MM``), counted by the reporting service in the same transaction as
    each post (posts are serialized by the audit chain's lock, so the one row a
    month is no point of contention). The unfiltered timeline reads these few
    rows and subtracts only the updates of commitments it does not count,
    instead of grouping every update at every request.
    """

    __tablename__ = "update_month"

    month: str = Field(sa_column=Column(String(7), primary_key=True))
    updates: int = Field(sa_column=Column(Integer, nullable=False))


class TimelineMoves(SQLModel):
    """What one day (UTC) changes in the timeline's figures: updates posted that day,
    and how many commitments start (+) or stop (-) counting as completed, as closed
    after their due date, and as due (from the day after the due date, or the
    commitment date if later; never stops). A day's completed and overdue figures
    are the sums of these columns over every day up to it.
    """

    day: date = Field(sa_type=Date, primary_key=True)
    updates: int = Field(default=0, nullable=False)
    completed: int = Field(default=0, nullable=False)
    closed_due: int = Field(default=0, nullable=False)
    due: int = Field(default=0, nullable=False)


class CommitmentTimelineDay(TimelineMoves, table=True):
    """Each commitment's timeline moves per day, from its status updates, closed spans,
    commitment date and due date. Rewritten for the commitment in the same
    transaction as each post to it and each change of its dates; the filtered
    timeline sums the counted commitments' rows instead of grouping their updates.
    """

    __tablename__ = "commitment_timeline_day"
    __table_args__ = (
        PrimaryKeyConstraint("commitment_id", "day"),
        # Read by index only: a commitment's rows are scattered over the table.
        Index(
            "ix_commitment_timeline_day_moves",
            "commitment_id",
            "day",
            "updates",
            "completed",
            "closed_due",
            "due",
        ),
    )

    commitment_id: int = Field(foreign_key="commitment.id", ondelete="CASCADE", primary_key=True)


class MinistryTimelineDay(TimelineMoves, table=True):
    """``commitment_timeline_day`` summed per day over every commitment (archived ones
    too) a ministry leads or supports: the timeline filtered by that ministry reads
    these rows less those of the few commitments it does not count. What a rewrite
    changes in a commitment's rows, and a change of its lead or supporting ministries,
    is added here under the audit chain's lock, as ``timeline_day`` is.
    """

    __tablename__ = "ministry_timeline_day"
    __table_args__ = (PrimaryKeyConstraint("ministry_id", "day"),)

    ministry_id: int = Field(foreign_key="ministry.id", primary_key=True)


class TimelineDay(TimelineMoves, table=True):
    """``commitment_timeline_day`` summed over every commitment (archived ones too) per
    day: what a rewrite changes in a commitment's rows is added here under the audit
    chain's lock, as ``update_month`` is. The unfiltered timeline reads these rows
    less those of the few commitments it does not count.
    """

    __tablename__ = "timeline_day"
