"""Percentiles and summaries of timing samples (seconds in, milliseconds out)."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (NumPy's default method)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(samples: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "p50_ms": round(percentile(samples, 0.50) * 1000, 3),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 3),
        "mean_ms": round(fmean(samples) * 1000, 3),
        "min_ms": round(min(samples) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3),
    }
