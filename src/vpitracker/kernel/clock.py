"""The moment derived state is computed for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vpitracker.models import utcnow


@dataclass(frozen=True)
class Clock:
    """The moment derived state is computed for: now, or the end of an ``as_of`` day."""

    as_of: date | None
    ref_date: date
    # Updates and assessments strictly before this count; None means all of them.
    cutoff: datetime | None
    ref_now: datetime
    stale_after_days: int

    @classmethod
    def at(cls, as_of: date | None, stale_after_days: int) -> Clock:
        now = utcnow()
        if as_of is None:
            return cls(None, now.date(), None, now, stale_after_days)
        end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)
        return cls(as_of, as_of, end, end, stale_after_days)

    def on(self, as_of: date | None) -> Clock:
        """This clock's settings at another moment: now, or the end of ``as_of``."""
        return Clock.at(as_of, self.stale_after_days)

    @property
    def stale_before(self) -> datetime:
        return self.ref_now - timedelta(days=self.stale_after_days)
