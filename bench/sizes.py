"""Dataset sizes: S, and M and L as multiples of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    ministries: int
    recommendations: int
    commitments: int
    status_updates: int

    def scaled(self, name: str, factor: int) -> Size:
        return Size(
            name,
            self.ministries * factor,
            self.recommendations * factor,
            self.commitments * factor,
            self.status_updates * factor,
        )


_S = Size("S", ministries=50, recommendations=500, commitments=2_000, status_updates=20_000)
SIZES: dict[str, Size] = {"S": _S, "M": _S.scaled("M", 10), "L": _S.scaled("L", 50)}
