"""sijil.store: the desk's database (SQLAlchemy 2 ORM, Alembic migrations).

SQLite is the embedded default; PostgreSQL is used through a
``postgresql+psycopg://`` URL. ``Store.open(url)`` migrates to the newest schema.
"""

from sijil.store.database import BUSY_TIMEOUT_MS, CONNECT_TIMEOUT_S, Store
from sijil.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision
from sijil.store.models import (
    CHANNELS,
    ENVELOPE_STATUSES,
    NAMING_CONVENTION,
    Attachment,
    Base,
    Correspondent,
    Envelope,
    QuarantineItem,
    Report,
    utcnow,
)
from sijil.store.models_assign import Assignment, AssignmentKind
from sijil.store.models_claims import (
    Claim,
    ClaimIncident,
    ClaimVerdict,
    MonitorRecord,
    Source,
    VerdictEvidence,
    VerdictReview,
)
from sijil.store.models_desk import (
    ActorName,
    Assessment,
    AssessmentReview,
    Attribution,
    CasualtyRow,
    DeskActor,
    DeskCounter,
    DeskSetting,
    DeskUser,
    DeskUserRole,
    EvidenceLink,
    Incident,
    IncidentRevision,
    Place,
    PlaceName,
    ReportLink,
)
from sijil.store.models_ledger import (
    BLOB_KINDS,
    LedgerEntry,
    LedgerHead,
    LedgerNode,
    LedgerSalt,
    LedgerState,
    VaultBlob,
)
from sijil.store.models_media import MEDIA_KINDS, MediaMatch, MediaPrintRow
from sijil.store.models_publish import (
    PostAction,
    PostKind,
    Publication,
    PublicationCheckpoint,
    PublicationMedia,
)
from sijil.store.models_publish_gate import (
    DenyTerm,
    IncidentRisk,
    PublishAttestation,
    PublishOverride,
)
from sijil.store.models_relay import RelayReply
from sijil.store.models_revocation import (
    CorrespondentKey,
    ReportFlag,
    ReportFlagKind,
    Revocation,
    RevocationCause,
)
from sijil.store.models_search import SEARCH_INDEX_OBJECTS, DocKind, SearchDoc
from sijil.store.models_security_keys import KeyCeremony, SecurityKey, SecurityKeyChallenge
from sijil.store.models_web import (
    ActivityEntry,
    ActivityHead,
    WebCredential,
    WebRecoveryCode,
    WebSession,
)
from sijil.store.translate import store_error
from sijil.store.types import UTCDateTime

__all__ = [
    "BLOB_KINDS",
    "BUSY_TIMEOUT_MS",
    "CHANNELS",
    "CONNECT_TIMEOUT_S",
    "ENVELOPE_STATUSES",
    "MEDIA_KINDS",
    "MIGRATIONS_DIR",
    "NAMING_CONVENTION",
    "SEARCH_INDEX_OBJECTS",
    "ActivityEntry",
    "ActivityHead",
    "ActorName",
    "Assessment",
    "AssessmentReview",
    "Assignment",
    "AssignmentKind",
    "Attachment",
    "Attribution",
    "Base",
    "CasualtyRow",
    "Claim",
    "ClaimIncident",
    "ClaimVerdict",
    "Correspondent",
    "CorrespondentKey",
    "DenyTerm",
    "DeskActor",
    "DeskCounter",
    "DeskSetting",
    "DeskUser",
    "DeskUserRole",
    "DocKind",
    "Envelope",
    "EvidenceLink",
    "Incident",
    "IncidentRevision",
    "IncidentRisk",
    "KeyCeremony",
    "LedgerEntry",
    "LedgerHead",
    "LedgerNode",
    "LedgerSalt",
    "LedgerState",
    "MediaMatch",
    "MediaPrintRow",
    "MonitorRecord",
    "Place",
    "PlaceName",
    "PostAction",
    "PostKind",
    "Publication",
    "PublicationCheckpoint",
    "PublicationMedia",
    "PublishAttestation",
    "PublishOverride",
    "QuarantineItem",
    "RelayReply",
    "Report",
    "ReportFlag",
    "ReportFlagKind",
    "ReportLink",
    "Revocation",
    "RevocationCause",
    "SearchDoc",
    "SecurityKey",
    "SecurityKeyChallenge",
    "Source",
    "Store",
    "UTCDateTime",
    "VaultBlob",
    "VerdictEvidence",
    "VerdictReview",
    "WebCredential",
    "WebRecoveryCode",
    "WebSession",
    "alembic_config",
    "head_revision",
    "store_error",
    "utcnow",
]
