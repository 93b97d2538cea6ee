"""Posting, correcting and retracting: gate → body → canonical JSON → signatures → log.

Each call runs in the caller's write transaction and takes the ledger's write lock
first (sijil.desk.custody.begin_change), so posts get gapless log indexes one at a
time and everything a post writes — the ``publications`` row, its media, the new
signed checkpoint, the incident's state and the custody-ledger entry — commits
together or not at all. A refusal raises before anything is added.

* ``post``: the first version of a subject (an incident code, or ``V-<n>``, the
  claim's current verdict); it must pass the safety gate.
* ``correct``: a new version of a published subject that supersedes the latest;
  it passes the gate again and says why in both languages.
* ``retract``: a tombstone superseding the latest version; it carries no content,
  only the reason (leak-scanned), and withdraws the incident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sijil.crypto.canonical import canonical_json
from sijil.desk.custody import Clock, begin_change, record, utcnow
from sijil.desk.users import EDITING, is_solo, require_user
from sijil.errors import DeskError, PublishRefused
from sijil.publish import document
from sijil.publish.derivatives import derive_all
from sijil.publish.document import Reviewed
from sijil.publish.gate import Draft, enforce
from sijil.publish.gate_records import (
    approve_override,
    leak_terms,
    record_attestation,
    tier_of,
)
from sijil.publish.keys import PublicationKey
from sijil.publish.leak_scan import scan
from sijil.publish.signing import log_root, sign_checkpoint, sign_post
from sijil.store import (
    Attachment,
    EvidenceLink,
    Publication,
    PublicationCheckpoint,
    PublicationMedia,
)
from sijil.store.models_desk import IncidentState
from sijil.store.models_publish import PostAction, PostKind

__all__ = [
    "PostResult",
    "Reader",
    "attest",
    "correct",
    "draft",
    "override",
    "post",
    "retract",
    "subject_of",
    "versions",
]

#: Reads an attachment's bytes by its SHA-256 (the desk's vault: ``Vault.read_bytes``).
Reader = Callable[[str], bytes]
MAX_REASON = 2000


@dataclass(frozen=True)
class PostResult:
    log_index: int
    action: str
    kind: str
    subject: str
    version: int
    body: bytes


def _reviewed(session: Session, target: str) -> Reviewed:
    if target.strip().upper().startswith("V-"):
        return document.reviewed_verdict(session, target.strip())
    return document.reviewed_incident(session, target)


def _chosen_media(session: Session, found: Reviewed, media: Sequence[str]) -> list[str]:
    if not media:
        return []
    if found.kind != PostKind.INCIDENT or found.incident is None:
        raise PublishRefused("only incident posts show media")
    linked = set(
        session.scalars(
            select(Attachment.sha256)
            .join(EvidenceLink, EvidenceLink.report_id == Attachment.report_id)
            .where(EvidenceLink.incident_id == found.incident.id)
        )
    )
    for sha in media:
        if sha not in linked:
            raise PublishRefused(f"{sha[:12]} is not a file of a report linked to {found.subject}")
    return list(dict.fromkeys(media))


def draft(
    session: Session, target: str, *, media: Sequence[str] = (), read: Reader | None = None
) -> Draft:
    """The content a post of ``target`` would carry, with its derivatives, before the gate."""
    found = _reviewed(session, target)
    chosen = _chosen_media(session, found, media)
    if chosen and read is None:
        raise PublishRefused("media needs the desk's vault (and its passphrase)")
    derivatives, failed = derive_all(chosen, read) if read is not None else ([], [])
    if found.incident is None:
        return Draft(found=found, content=document.verdict_content(session, found))
    tier, jitter = tier_of(session, found.incident)
    content = document.incident_content(session, found, tier, [d.entry() for d in derivatives])
    end = found.incident.end_at or found.incident.start_at
    return Draft(
        found=found,
        content=content,
        derivatives=derivatives,
        media_failures=failed,
        tier=tier,
        jitter_ppm=jitter,
        event_end=end,
    )


def attest(
    session: Session,
    target: str,
    *,
    media: Sequence[str] = (),
    read: Reader | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> str:
    """Record that faces, voices and rooftops in ``target``'s content were checked; its digest."""
    begin_change(session)
    require_user(session, by, *EDITING)
    made = draft(session, target, media=media, read=read)
    digest = made.content_sha256
    record_attestation(
        session,
        kind=made.found.kind,
        subject=made.found.subject,
        content_sha256=digest,
        incident=made.found.incident,
        by=by,
        clock=clock,
    )
    return digest


def override(
    session: Session,
    target: str,
    check: str,
    *,
    reason: str,
    media: Sequence[str] = (),
    read: Reader | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> tuple[Reviewed, int]:
    """One person's approval to post ``target``'s current content despite ``check``.

    Returns what it is about and how many different people have approved; two make
    it effective (sijil.publish.gate_records.approve_override).
    """
    begin_change(session)
    made = draft(session, target, media=media, read=read)
    count = approve_override(
        session,
        kind=made.found.kind,
        subject=made.found.subject,
        content_sha256=made.content_sha256,
        check=check,
        reason=reason,
        by=by,
        clock=clock,
    )
    return made.found, count


def subject_of(session: Session, target: str) -> tuple[str, str]:
    """The (kind, subject) a target names: an incident code, a claim ``C-<n>`` or ``V-<n>``."""
    from sijil.desk.claims import claim_token, get_claim
    from sijil.desk.incidents import get_incident
    from sijil.desk.verdicts import get_verdict

    text = target.strip()
    head = text[:2].upper()
    if head == "V-":
        return str(PostKind.VERDICT), claim_token(get_verdict(session, text).claim_id)
    if head == "C-":
        return str(PostKind.VERDICT), claim_token(get_claim(session, text).id)
    return str(PostKind.INCIDENT), get_incident(session, text).code


def versions(session: Session, kind: str, subject: str) -> list[Publication]:
    """Every published version of a subject, oldest first."""
    return _versions(session, kind, subject)


def _versions(session: Session, kind: str, subject: str) -> list[Publication]:
    return list(
        session.scalars(
            select(Publication)
            .where(Publication.kind == kind, Publication.subject == subject)
            .order_by(Publication.version)
        )
    )


def _reason(reason_ar: str, reason_en: str) -> dict[str, str]:
    pair = {"ar": " ".join(reason_ar.split()), "en": " ".join(reason_en.split())}
    if not pair["ar"] and not pair["en"]:
        raise DeskError("say why, in Arabic and English (--reason-ar, --reason-en)")
    if any(len(v) > MAX_REASON for v in pair.values()):
        raise DeskError(f"a reason is at most {MAX_REASON} characters")
    return pair


def _append(
    session: Session,
    key: PublicationKey,
    *,
    action: PostAction,
    kind: str,
    subject: str,
    independent: bool,
    reason: dict[str, str] | None,
    made: Draft | None,
    user_id: int,
    now: datetime,
) -> PostResult:
    """Sign and append one post, its media and the log's new checkpoint."""
    earlier = _versions(session, kind, subject)
    index = session.scalar(select(func.count()).select_from(Publication)) or 0
    day = now.astimezone(UTC).date()
    body = document.post_body(
        log_index=index,
        action=str(action),
        kind=kind,
        subject=subject,
        version=len(earlier) + 1,
        supersedes=earlier[-1].log_index if earlier else None,
        published_at=day,
        independently_reviewed=independent,
        reason=reason,
        content=None if made is None else made.content,
    )
    data = canonical_json(body)
    leaf = hashlib.sha256(b"\x00" + data).digest()
    signed = sign_post(
        key,
        data,
        trusted_comment=f"sijil-post {index} {kind} {subject} v{body['version']} {action}",
    )
    session.add(
        Publication(
            log_index=index,
            action=str(action),
            kind=kind,
            subject=subject,
            version=body["version"],
            supersedes=body["supersedes"],
            body=data,
            leaf_hash=leaf.hex(),
            minisig=signed.minisig,
            sshsig=signed.sshsig,
            independently_reviewed=independent,
            published_at=datetime.combine(day, time(), tzinfo=UTC),
            published_by=user_id,
        )
    )
    session.flush()
    for item in [] if made is None else made.derivatives:
        if session.get(PublicationMedia, item.sha256) is None:
            session.add(
                PublicationMedia(
                    sha256=item.sha256,
                    log_index=index,
                    media_type=item.media_type,
                    content=item.content,
                )
            )
    leaves = [
        bytes.fromhex(h)
        for h in session.scalars(select(Publication.leaf_hash).order_by(Publication.log_index))
    ]
    root = log_root(leaves)
    session.add(
        PublicationCheckpoint(
            size=len(leaves),
            root_hash=root.hex(),
            note=sign_checkpoint(key, key.origin, len(leaves), root),
            signed_at=now,
        )
    )
    if made is not None and made.found.incident is not None:
        made.found.incident.state = str(IncidentState.PUBLISHED)
    session.flush()
    record(
        session,
        action=f"publish.{action}",
        subject=subject,
        by=user_id,
        data={
            "log_index": index,
            "kind": kind,
            "version": body["version"],
            "post_sha256": hashlib.sha256(data).hexdigest(),
            "content_sha256": None if made is None else made.content_sha256,
        },
        at=now,
    )
    return PostResult(index, str(action), kind, subject, body["version"], data)


def _publish(
    session: Session,
    key: PublicationKey,
    target: str,
    action: PostAction,
    *,
    media: Sequence[str],
    read: Reader | None,
    reason: dict[str, str] | None,
    by: str | None,
    clock: Clock,
) -> PostResult:
    begin_change(session)
    user = require_user(session, by, *EDITING)
    made = draft(session, target, media=media, read=read)
    found = made.found
    earlier = _versions(session, found.kind, found.subject)
    if action is PostAction.POST and earlier:
        raise PublishRefused(f"{found.subject} is already published; post a correction instead")
    if action is PostAction.CORRECTION and (
        not earlier or earlier[-1].action == PostAction.RETRACTION
    ):
        raise PublishRefused(f"{found.subject} has no live post to correct")
    now = clock()
    enforce(session, made, now=now, reason=reason)
    independent = found.independent and not is_solo(session)
    return _append(
        session,
        key,
        action=action,
        kind=found.kind,
        subject=found.subject,
        independent=independent,
        reason=reason,
        made=made,
        user_id=user.id,
        now=now,
    )


def post(
    session: Session,
    key: PublicationKey,
    target: str,
    *,
    media: Sequence[str] = (),
    read: Reader | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> PostResult:
    """Publish the first version of ``target`` (an incident code or ``V-<n>``)."""
    return _publish(
        session,
        key,
        target,
        PostAction.POST,
        media=media,
        read=read,
        reason=None,
        by=by,
        clock=clock,
    )


def correct(
    session: Session,
    key: PublicationKey,
    target: str,
    *,
    reason_ar: str,
    reason_en: str,
    media: Sequence[str] = (),
    read: Reader | None = None,
    by: str | None,
    clock: Clock = utcnow,
) -> PostResult:
    """Publish a new version of ``target`` that supersedes its latest one."""
    return _publish(
        session,
        key,
        target,
        PostAction.CORRECTION,
        media=media,
        read=read,
        reason=_reason(reason_ar, reason_en),
        by=by,
        clock=clock,
    )


def retract(
    session: Session,
    key: PublicationKey,
    subject: str,
    *,
    kind: str | None = None,
    reason_ar: str,
    reason_en: str,
    by: str | None,
    clock: Clock = utcnow,
) -> PostResult:
    """Withdraw ``subject`` (an incident code or ``C-<n>``): a tombstone with the reason only.

    ``kind`` is read from the subject when not given (``C-``/``V-``: a verdict).
    """
    begin_change(session)
    user = require_user(session, by, *EDITING)
    reason = _reason(reason_ar, reason_en)
    if kind is None:
        kind, subject = subject_of(session, subject)
    earlier = _versions(session, str(kind), subject)
    if not earlier or earlier[-1].action == PostAction.RETRACTION:
        raise PublishRefused(f"{subject} has no live post to retract")
    leaks = scan([(f"reason.{k}", v) for k, v in sorted(reason.items())], leak_terms(session))
    if leaks:
        named = "; ".join(f"leak: {f.describe()}" for f in leaks)
        raise PublishRefused(
            f"the safety gate refused {subject}: {len(leaks)} checks failed ({named})"
        )
    now = clock()
    result = _append(
        session,
        key,
        action=PostAction.RETRACTION,
        kind=str(kind),
        subject=subject,
        independent=earlier[-1].independently_reviewed,
        reason=reason,
        made=None,
        user_id=user.id,
        now=now,
    )
    if kind == PostKind.INCIDENT:
        from sijil.desk.incidents import get_incident

        get_incident(session, subject).state = str(IncidentState.WITHDRAWN)
    return result
