"""Every table model, imported here so Alembic sees the whole schema."""

from vpitracker.models.audit import AuditEvent, IdempotencyRecord, MerkleNode
from vpitracker.models.base import (
    Archivable,
    ArchivableRecord,
    UTCDateTime,
    Versioned,
    VersionedRecord,
    metadata,
    table_of,
    utcnow,
)
from vpitracker.models.notifications import (
    DigestRun,
    MailMessage,
    NotifiedTransition,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from vpitracker.models.oversight import (
    Commitment,
    CommitmentAssessmentSpan,
    CommitmentClosedSpan,
    CommitmentFigures,
    CommitmentLatest,
    CommitmentRecommendation,
    CommitmentSupport,
    CommitmentUpdateSpan,
    Recommendation,
    RecommendationProvision,
    UpdateMonth,
)
from vpitracker.models.reference import Ministry, Provision
from vpitracker.models.reporting import Assessment, StatusUpdate
from vpitracker.models.users import ApiKey, LoginFailure, User, UserMinistry

__all__ = [
    "ApiKey",
    "Archivable",
    "ArchivableRecord",
    "Assessment",
    "AuditEvent",
    "Commitment",
    "CommitmentAssessmentSpan",
    "CommitmentClosedSpan",
    "CommitmentFigures",
    "CommitmentLatest",
    "CommitmentRecommendation",
    "CommitmentSupport",
    "CommitmentUpdateSpan",
    "DigestRun",
    "IdempotencyRecord",
    "LoginFailure",
    "MailMessage",
    "MerkleNode",
    "Ministry",
    "NotifiedTransition",
    "OutboxEvent",
    "Provision",
    "Recommendation",
    "RecommendationProvision",
    "StatusUpdate",
    "UTCDateTime",
    "UpdateMonth",
    "User",
    "UserMinistry",
    "Versioned",
    "VersionedRecord",
    "WebhookDelivery",
    "WebhookSubscription",
    "metadata",
    "table_of",
    "utcnow",
]
