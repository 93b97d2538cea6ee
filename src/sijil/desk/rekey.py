"""A correspondent's move to a new pseudonym key, and what registration marks.

A rekey statement (sijil.envelope.rekey) arrives inside an envelope signed by the
old key. The desk checks the new key's proof, keeps the old key in
``correspondent_keys`` (its reports stay the correspondent's, and envelopes it
signed still find their owner) and moves the correspondent to the new keys, so
their codename and track record carry over. A rekey signed by a key after its
revocation is refused: whoever holds a captured key must not move the
correspondent's trust to a key of their own. The envelope itself is kept either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sijil.crypto.identity import fingerprint, unb64
from sijil.desk.custody import canonical_sha256, record
from sijil.desk.revocation import correspondent_subject, flag_report
from sijil.envelope.manifest import Manifest, Rekey
from sijil.envelope.rekey import verify_rekey
from sijil.errors import BadSignature
from sijil.store import Correspondent, CorrespondentKey, Report, ReportFlag, ReportFlagKind

__all__ = ["Marked", "RekeyOutcome", "mark_registration", "registration_alerts", "retired_owner"]


class RekeyOutcome(StrEnum):
    MOVED = "moved to a new key"
    REFUSED_REVOKED = "rekey refused: signed by a revoked key"
    REFUSED_PROOF = "rekey refused: the new key's proof does not verify"


@dataclass(frozen=True, kw_only=True)
class Marked:
    """What registration found: the report's flag and what became of a rekey."""

    flag: ReportFlagKind | None = None
    rekey: RekeyOutcome | None = None

    def alerts(self) -> list[str]:
        """Lines for the import output; the duress alarm first and loudest."""
        lines = []
        if self.flag is ReportFlagKind.DURESS:
            lines.append("ALERT: SENT UNDER DURESS; the correspondent's key is revoked from now")
        elif self.flag is not None:
            lines.append(f"{self.flag}: signed by a revoked key")
        if self.rekey is not None:
            lines.append(str(self.rekey))
        return lines


def retired_owner(session: Session, sign_key: str) -> Correspondent | None:
    """The correspondent who once used ``sign_key`` and moved on to a new key."""
    return session.scalar(
        select(Correspondent)
        .join(CorrespondentKey, CorrespondentKey.correspondent_id == Correspondent.id)
        .where(CorrespondentKey.sign_key == sign_key)
    )


def _move(
    session: Session, report: Report, sender: Correspondent, old_key: str, rekey: Rekey,
    at: datetime,
) -> None:  # fmt: skip
    new_fp = fingerprint(
        unb64(rekey.sign_key, size=32, what="new key"),
        unb64(rekey.reply_key, size=32, what="new reply key"),
    )
    # the new key may have arrived first, filed as an unenrolled source: fold it in
    stranger = session.scalar(select(Correspondent).filter_by(sign_key=rekey.sign_key))
    if stranger is not None and stranger.id != sender.id:
        session.execute(
            update(Report)
            .where(Report.correspondent_id == stranger.id)
            .values(correspondent_id=sender.id)
        )
        stranger.sign_key = None
        session.flush()
    if sender.sign_key is not None:
        session.add(
            CorrespondentKey(
                correspondent_id=sender.id,
                sign_key=sender.sign_key,
                reply_key=sender.reply_key,
                retired_at=at,
                report_id=report.id,
            )
        )
    sender.sign_key, sender.reply_key, sender.fingerprint = (
        rekey.sign_key,
        rekey.reply_key,
        new_fp,
    )
    session.flush()
    record(
        session,
        action="correspondent.rekeyed",
        subject=correspondent_subject(sender.id),
        by=None,
        data={
            "correspondent": sender.id,
            "report": report.id,
            "old_key_sha256": canonical_sha256(old_key),
            "new_key_sha256": canonical_sha256(rekey.sign_key),
        },
        at=at,
    )


def mark_registration(
    session: Session, report: Report, sender: Correspondent, manifest: Manifest, at: datetime
) -> Marked:
    """Flag the new report if its key is revoked or it was sent under duress; apply a rekey.

    Called inside the registration's transaction, after the report is flushed.
    """
    flag = flag_report(session, report, sender, duress=manifest.duress, at=at)
    outcome = None
    if manifest.rekey is not None:
        if flag is not None or sender.sign_key != manifest.sign_key:
            # a revoked key, or a key already retired: it speaks for no one now
            outcome = RekeyOutcome.REFUSED_REVOKED
        else:
            try:
                rekey = verify_rekey(manifest)
            except BadSignature:
                outcome = RekeyOutcome.REFUSED_PROOF
            else:
                _move(session, report, sender, manifest.sign_key, rekey, at)
                outcome = RekeyOutcome.MOVED
    return Marked(flag=flag, rekey=outcome)


def registration_alerts(session: Session, report_id: int, manifest: Manifest) -> list[str]:
    """The alert lines for a registered report, read back from what registration stored."""
    flag = session.get(ReportFlag, report_id)
    outcome = None
    if manifest.rekey is not None:
        moved = session.scalar(select(CorrespondentKey.id).filter_by(report_id=report_id))
        outcome = RekeyOutcome.MOVED if moved is not None else RekeyOutcome.REFUSED_REVOKED
        if moved is None and flag is None:
            outcome = RekeyOutcome.REFUSED_PROOF
    kind = None if flag is None else ReportFlagKind(flag.kind)
    return Marked(flag=kind, rekey=outcome).alerts()
