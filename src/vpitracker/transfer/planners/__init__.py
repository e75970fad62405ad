"""One planner per kind: check the rows against the database and plan each row's write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from vpitracker.kernel.actor import Actor
from vpitracker.transfer.parsing import Errors
from vpitracker.transfer.planners import (
    assessments,
    commitments,
    ministries,
    recommendations,
    status_updates,
)
from vpitracker.transfer.planners.common import Op
from vpitracker.transfer.schemas import Kind

Planner = Callable[[Session, Actor, Any, Errors], list[Op]]

PLANNERS: dict[Kind, Planner] = {
    Kind.ministries: ministries.plan,
    Kind.recommendations: recommendations.plan,
    Kind.commitments: commitments.plan,
    Kind.status_updates: status_updates.plan,
    Kind.assessments: assessments.plan,
}
