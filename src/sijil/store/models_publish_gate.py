"""The safety gate's records: risk tiers, attestations, overrides, the deny list.

* ``incident_risk``: an incident's risk tier (``tier`` null means the desk's
  default tier) and the publication jitter drawn for it once, in parts per
  million of the tier's jitter range, so retrying a refused post never draws a
  shorter delay. An incident without a row is held for the whole range.
* ``publish_attestations``: an editor's word that faces, voices and rooftops in
  what a post shows were checked. It names the post's content by the SHA-256 of
  its canonical JSON, so any change to the content needs a new attestation.
* ``publish_overrides``: one person's approval to publish despite one failed
  check of the gate, for one content digest; a check is overridden only when two
  different people approved it (never on a solo desk).
* ``publish_deny_terms``: words and names the desk never publishes, with their
  match key (sijil.text folding), checked by the leak scan of every post.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sijil.store.models import Base, utcnow

__all__ = [
    "DENY_CLASSES",
    "DenyTerm",
    "GateCheck",
    "IncidentRisk",
    "PublishAttestation",
    "PublishOverride",
    "RiskTier",
    "TermClass",
]


class RiskTier(StrEnum):
    """How dangerous an incident's details are to the people near it (sijil.publish.coarsen)."""

    LOW = "low"
    ELEVATED = "elevated"
    HIGH = "high"
    EXTREME = "extreme"


class TermClass(StrEnum):
    """What a leak-scan term is; a finding names the class, never the term."""

    CODENAME = "codename"  # a correspondent's codename (read from correspondents)
    NAME = "name"  # a person's real name
    ALIAS = "alias"  # another name a person goes by
    PHONE = "phone"  # a phone number, matched on its digits in any script
    DEVICE = "device"  # a device or camera name, model or serial
    HANDLE = "handle"  # a messenger or social-media handle, an e-mail address
    OTHER = "other"  # anything else the desk never publishes


#: The classes an editor may give a deny-list term (codenames come from the desk).
DENY_CLASSES = tuple(c for c in TermClass if c is not TermClass.CODENAME)


class GateCheck(StrEnum):
    """The safety gate's checks, by the name a refusal and an override use."""

    REVIEW = "review"  # the assessment or verdict is reviewed and current
    LANGUAGES = "languages"  # both languages present (or marked pending)
    DELAY = "delay"  # the minimum delay after the event, plus jitter
    LEAK = "leak"  # the text leak scan
    MEDIA = "media"  # re-encoded derivatives without metadata
    ATTESTATION = "attestation"  # faces, voices and rooftops checked
    FLAGGED = "flagged"  # reports of a revoked or duress correspondent


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class IncidentRisk(Base):
    __tablename__ = "incident_risk"
    __table_args__ = (
        CheckConstraint(_one_of("tier", RiskTier), name="tier"),
        CheckConstraint("jitter_ppm BETWEEN 0 AND 999999", name="jitter_ppm"),
    )

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    # null: the desk's default tier (setting publish.default_tier)
    tier: Mapped[str | None] = mapped_column(String(16))
    jitter_ppm: Mapped[int] = mapped_column(Integer)
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
    set_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class PublishAttestation(Base):
    __tablename__ = "publish_attestations"
    __table_args__ = (Index("ix_publish_attestations_kind_subject", "kind", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(32))
    # SHA-256 of the canonical JSON of the post's incident or verdict object
    content_sha256: Mapped[str] = mapped_column(String(64))
    # what was checked, space-separated and sorted: "faces rooftops voices"
    checks: Mapped[str] = mapped_column(String(64))
    attested_at: Mapped[datetime] = mapped_column(default=utcnow)
    attested_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class PublishOverride(Base):
    __tablename__ = "publish_overrides"
    __table_args__ = (
        CheckConstraint(_one_of("check_name", GateCheck), name="check_name"),
        # one approval per person, check and content (the default name passes 63 characters)
        UniqueConstraint(
            "kind",
            "subject",
            "content_sha256",
            "check_name",
            "approved_by",
            name="uq_publish_overrides_approval",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str] = mapped_column(String(64))
    check_name: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))


class DenyTerm(Base):
    __tablename__ = "publish_deny_terms"
    __table_args__ = (CheckConstraint(_one_of("term_class", TermClass), name="term_class"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term: Mapped[str] = mapped_column(String(255))
    term_class: Mapped[str] = mapped_column(String(16))
    # the term folded for matching (sijil.publish.leak_scan.term_key)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[int] = mapped_column(ForeignKey("desk_users.id"))
