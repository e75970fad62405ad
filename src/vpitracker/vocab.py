"""The product's vocabularies: one place for every status word and name."""

from __future__ import annotations

from enum import StrEnum

from vpitracker.i18n import N_


class Role(StrEnum):
    secretariat = "secretariat"
    alliance_member = "alliance_member"
    government_officer = "government_officer"
    viewer = "viewer"


# Who may post what (docs/concepts.md, who may do what): the API's role gates, the web
# pages and the historical import check the same tuples.
ASSESSOR_ROLES = (Role.secretariat, Role.alliance_member)
REPORTER_ROLES = (Role.secretariat, Role.government_officer)


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
    1: N_("Criminalization and jurisdiction"),
    2: N_("Prevention, technical assistance, protection measures and other measures"),
    3: N_("Law enforcement and the judicial system"),
    4: N_("International cooperation, mutual legal assistance and confiscation"),
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
    webhook_subscription = "webhook_subscription"


# Events about the public record. Users, API keys, sign-ins and webhook subscriptions
# stay the secretariat's: the change feed and the verifiable log's events show them to
# nobody else, and they raise no notification.
PUBLIC_ENTITY_TYPES = frozenset(
    {
        EntityType.ministry,
        EntityType.provision,
        EntityType.recommendation,
        EntityType.commitment,
        EntityType.status_update,
        EntityType.assessment,
    }
)


# English labels of every vocabulary, for people (GET /v1/vocabulary, CSV headers,
# pages); the catalogs translate them. Values stay the machine words above.
LABELS: dict[str, dict[str, str]] = {
    "reported_status": {
        ReportedStatus.not_started: N_("Not started"),
        ReportedStatus.in_progress: N_("In progress"),
        ReportedStatus.completed: N_("Completed"),
        ReportedStatus.stalled: N_("Stalled"),
        ReportedStatus.cancelled: N_("Cancelled"),
    },
    "verdict": {
        DerivedVerdict.unassessed: N_("Unassessed"),
        DerivedVerdict.agrees: N_("Agrees"),
        DerivedVerdict.partially_agrees: N_("Partially agrees"),
        DerivedVerdict.disputes: N_("Disputes"),
        DerivedVerdict.insufficient_evidence: N_("Insufficient evidence"),
    },
    "government_response": {
        GovernmentResponse.pending: N_("Pending"),
        GovernmentResponse.supported: N_("Supported"),
        GovernmentResponse.partially_supported: N_("Partially supported"),
        GovernmentResponse.noted: N_("Noted"),
    },
    "priority": {
        Priority.high: N_("High"),
        Priority.medium: N_("Medium"),
        Priority.low: N_("Low"),
    },
    "implementation": {
        Implementation.no_commitment: N_("No commitment"),
        Implementation.not_started: N_("Not started"),
        Implementation.in_progress: N_("In progress"),
        Implementation.completed: N_("Completed"),
    },
    "ministry_kind": {
        MinistryKind.ministry: N_("Ministry"),
        MinistryKind.state_department: N_("State department"),
        MinistryKind.agency: N_("Agency"),
        MinistryKind.county: N_("County government"),
        MinistryKind.judiciary: N_("Judiciary"),
        MinistryKind.parliament: N_("Parliament"),
        MinistryKind.independent_office: N_("Independent office"),
        MinistryKind.other: N_("Other"),
    },
    "instrument": {
        Instrument.untoc: N_("United Nations Convention against Transnational Organized Crime"),
        Instrument.trafficking_protocol: N_("Trafficking in Persons Protocol"),
        Instrument.smuggling_protocol: N_("Smuggling of Migrants Protocol"),
        Instrument.firearms_protocol: N_("Firearms Protocol"),
    },
    "role": {
        Role.secretariat: N_("Secretariat"),
        Role.alliance_member: N_("Alliance member"),
        Role.government_officer: N_("Government officer"),
        Role.viewer: N_("Viewer"),
    },
}
