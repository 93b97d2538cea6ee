"""Evidence: reports linked to incidents, reports linked to each other, and attribution.

An evidence link says what a report (or one of its files) is to an incident:
primary, corroborating, contradicting or context, with how sure the desk is
(maybe, likely, certain), a note and its author. Links between reports say two
are duplicates, near-duplicates, about the same event or a series; a person
makes them (confirmed) or a machine suggests them. The media fingerprints'
near-duplicate matches are such suggestions until someone confirms or rejects
them. Attribution says which actor is known or suspected to be responsible, or
claims or denies it, and on what basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from sijil.desk.actors import resolve_actor
from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.incidents import get_incident
from sijil.desk.users import EDITING, require_user
from sijil.errors import DeskError, UnknownCode
from sijil.store import Attachment, Attribution, EvidenceLink, MediaMatch, Report, ReportLink
from sijil.store.models_desk import (
    Confidence,
    EvidenceRole,
    LinkOrigin,
    LinkState,
    ReportLinkKind,
    Stance,
)

__all__ = [
    "ReportLinkSuggestion",
    "attribute",
    "link_report",
    "link_reports",
    "media_suggestions",
]


def _report(session: Session, report_id: int) -> Report:
    report = session.get(Report, report_id)
    if report is None:
        raise UnknownCode(f"no report #{report_id}")
    return report


def link_report(
    session: Session,
    code: str,
    *,
    report_id: int,
    attachment: int | None = None,
    role: EvidenceRole | str = EvidenceRole.CORROBORATING,
    confidence: Confidence | str = Confidence.LIKELY,
    note: str | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> EvidenceLink:
    """Link report ``report_id`` (or its file at position ``attachment``) to incident ``code``."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    incident = get_incident(session, code)
    report = _report(session, report_id)
    role, confidence = EvidenceRole(role), Confidence(confidence)
    attachment_id = None
    if attachment is not None:
        found = session.scalar(
            select(Attachment).where(
                Attachment.report_id == report.id, Attachment.position == attachment
            )
        )
        if found is None:
            raise UnknownCode(f"report #{report.id} has no file at position {attachment}")
        attachment_id = found.id
    twice = session.scalar(
        select(EvidenceLink.id).where(
            EvidenceLink.incident_id == incident.id,
            EvidenceLink.report_id == report.id,
            EvidenceLink.attachment_id.is_(None)
            if attachment_id is None
            else EvidenceLink.attachment_id == attachment_id,
        )
    )
    if twice is not None:
        raise DeskError(f"report #{report.id} is already evidence for {incident.code}")
    now = clock()
    link = EvidenceLink(
        incident_id=incident.id,
        report_id=report.id,
        attachment_id=attachment_id,
        role=str(role),
        confidence=str(confidence),
        note=note.strip() if note and note.strip() else None,
        created_at=now,
        created_by=user.id,
    )
    session.add(link)
    session.flush()
    record(
        session,
        action="evidence.linked",
        subject=incident.code,
        by=user.id,
        data={
            "incident": incident.code,
            "link": link.id,
            "report": report.id,
            "attachment": attachment_id,
            "role": str(role),
            "confidence": str(confidence),
            "note_sha256": None if link.note is None else canonical_sha256(link.note),
        },
        at=now,
    )
    return link


def link_reports(
    session: Session,
    report_id: int,
    other_id: int,
    *,
    kind: ReportLinkKind | str,
    origin: LinkOrigin | str = LinkOrigin.HUMAN,
    state: LinkState | str = LinkState.CONFIRMED,
    note: str | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> ReportLink:
    """Record how two reports relate, or a person's decision on a machine's suggestion.

    The pair is stored in id order. A link of the same kind between the same pair
    is updated (its state decided), not duplicated.
    """
    begin_change(session)
    user = require_user(session, by, *EDITING)
    kind, origin, state = ReportLinkKind(kind), LinkOrigin(origin), LinkState(state)
    if report_id == other_id:
        raise DeskError("a report cannot be linked to itself")
    low, high = sorted((_report(session, report_id).id, _report(session, other_id).id))
    now = clock()
    link = session.scalar(
        select(ReportLink).where(
            ReportLink.report_id == low, ReportLink.other_id == high, ReportLink.kind == str(kind)
        )
    )
    if link is None:
        link = ReportLink(
            report_id=low,
            other_id=high,
            kind=str(kind),
            origin=str(origin),
            state=str(state),
            note=note,
            created_at=now,
            created_by=user.id if origin == LinkOrigin.HUMAN else None,
        )
        session.add(link)
    elif link.state == str(state):
        raise DeskError(f"reports #{low} and #{high} are already {kind} ({state})")
    else:
        link.state = str(state)
        link.note = note if note is not None else link.note
    if state != LinkState.SUGGESTED:
        link.decided_at, link.decided_by = now, user.id
    session.flush()
    record(
        session,
        action="reports.linked",
        subject=f"report:{low}",
        by=user.id,
        data={
            "link": link.id,
            "reports": [low, high],
            "kind": str(kind),
            "origin": link.origin,
            "state": str(state),
        },
        at=now,
    )
    return link


@dataclass(frozen=True, kw_only=True)
class ReportLinkSuggestion:
    """A machine's suggestion that two reports are near-duplicates (from media matches)."""

    report_id: int
    other_id: int
    kind: ReportLinkKind
    origin: LinkOrigin
    state: LinkState
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "reports": [self.report_id, self.other_id],
            "kind": str(self.kind),
            "origin": str(self.origin),
            "state": str(self.state),
            "basis": self.basis,
        }


def media_suggestions(
    session: Session, report_ids: list[int] | None = None
) -> list[ReportLinkSuggestion]:
    """Near-duplicate media matches between reports, as suggested links not yet decided.

    One suggestion per pair of reports (the closest match is its basis); pairs a
    person already confirmed or rejected as near-duplicates are left out.
    """
    mine, other = aliased(Attachment), aliased(Attachment)
    query = (
        select(MediaMatch, mine, other)
        .join(mine, MediaMatch.attachment_id == mine.id)
        .join(other, MediaMatch.other_id == other.id)
        .where(mine.report_id != other.report_id)
        .order_by(MediaMatch.distance, MediaMatch.id)
    )
    if report_ids is not None:
        query = query.where(mine.report_id.in_(report_ids) | other.report_id.in_(report_ids))
    decided = {
        (row.report_id, row.other_id)
        for row in session.scalars(
            select(ReportLink).where(
                ReportLink.kind == str(ReportLinkKind.NEAR_DUPLICATE),
                ReportLink.state != str(LinkState.SUGGESTED),
            )
        )
    }
    found: dict[tuple[int, int], ReportLinkSuggestion] = {}
    for match, new, old in session.execute(query):
        pair = (min(new.report_id, old.report_id), max(new.report_id, old.report_id))
        if pair in decided or pair in found:
            continue
        found[pair] = ReportLinkSuggestion(
            report_id=pair[0],
            other_id=pair[1],
            kind=ReportLinkKind.NEAR_DUPLICATE,
            origin=LinkOrigin.MACHINE,
            state=LinkState.SUGGESTED,
            basis=f"{match.kind} match: {new.name} in #{new.report_id} looks like {old.name} "
            f"in #{old.report_id} (distance {match.distance})",
        )
    return sorted(found.values(), key=lambda s: (s.report_id, s.other_id))


def attribute(
    session: Session,
    code: str,
    *,
    actor: str,
    stance: Stance | str,
    basis: str,
    by: str | None,
    clock: Clock = utcnow,
) -> Attribution:
    """Record that ``actor`` is known or suspected to be responsible, or claims or denies it."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    incident = get_incident(session, code)
    found = resolve_actor(session, actor)
    stance = Stance(stance)
    if not basis.strip():
        raise DeskError("say on what basis the actor is attributed")
    now = clock()
    row = Attribution(
        incident_id=incident.id,
        actor_id=found.id,
        stance=str(stance),
        basis=basis.strip(),
        created_at=now,
        created_by=user.id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        action="incident.attributed",
        subject=incident.code,
        by=user.id,
        data={
            "incident": incident.code,
            "attribution": row.id,
            "actor": found.id,
            "stance": str(stance),
            "basis_sha256": canonical_sha256(row.basis),
        },
        at=now,
    )
    return row
