"""The product's vocabularies: one place for every status word and name."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    secretariat = "secretariat"
    alliance_member = "alliance_member"
    government_officer = "government_officer"
    viewer = "viewer"


class MinistryKind(StrEnum):
    ministry = "ministry"
    state_department = "state_department"
    agency = "agency"
    county = "county"
    judiciary = "judiciary"
    parliament = "parliament"
    independent_office = "independent_office"
    other = "other"


class Instrument(StrEnum):
    untoc = "untoc"
    trafficking_protocol = "trafficking_protocol"
    smuggling_protocol = "smuggling_protocol"
    firearms_protocol = "firearms_protocol"


class Priority(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class GovernmentResponse(StrEnum):
    pending = "pending"
    supported = "supported"
    partially_supported = "partially_supported"
    noted = "noted"


class ReportedStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    stalled = "stalled"
    cancelled = "cancelled"


# Statuses after which a commitment can be neither overdue nor stale.
CLOSED_STATUSES = (ReportedStatus.completed, ReportedStatus.cancelled)


class Verdict(StrEnum):
    agrees = "agrees"
    partially_agrees = "partially_agrees"
    disputes = "disputes"
    insufficient_evidence = "insufficient_evidence"


class DerivedVerdict(StrEnum):
    unassessed = "unassessed"
    agrees = "agrees"
    partially_agrees = "partially_agrees"
    disputes = "disputes"
    insufficient_evidence = "insufficient_evidence"


class Implementation(StrEnum):
    no_commitment = "no_commitment"
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"


CLUSTER_NAMES: dict[int, str] = {
    1: "Criminalization and jurisdiction",
    2: "Prevention, technical assistance, protection measures and other measures",
    3: "Law enforcement and the judicial system",
    4: "International cooperation, mutual legal assistance and confiscation",
}


class EntityType(StrEnum):
    ministry = "ministry"
    provision = "provision"
    recommendation = "recommendation"
    commitment = "commitment"
    status_update = "status_update"
    assessment = "assessment"
    user = "user"
    api_key = "api_key"
