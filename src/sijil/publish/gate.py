"""The safety gate: every check a post must pass before anything is written. Fails closed.

:func:`failures` runs every check and collects all that fail; :func:`enforce`
raises one :class:`~sijil.errors.PublishRefused` line naming each, unless two
different people approved overriding it (sijil.publish.gate_records; never on a
solo desk, never for the checks that cannot be overridden). The checks:

* **languages** — every Arabic text present (English may be ``pending``, and the
  post says so);
* **delay** — now is past the event's end plus the tier's delay and drawn jitter;
* **leak** — no codename, deny-list term, phone number, handle or device name in
  any text (sijil.publish.leak_scan), Arabic and English alike;
* **media** — every file is a re-encoded derivative that sijil.scrub finds clean;
* **attestation** — an editor attested that faces, voices and rooftops in exactly
  this content were checked;
* **flagged** — no report the post rests on is from a revoked or duress key
  unless two people cleared it (sijil.desk.revocation.publication_blockers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sijil.desk.custody import canonical_sha256
from sijil.desk.revocation import publication_blockers
from sijil.errors import PublishRefused
from sijil.publish.coarsen import RiskTier, earliest_publication
from sijil.publish.derivatives import Derivative
from sijil.publish.document import Reviewed, languages, text_fields
from sijil.publish.gate_records import attested, gate_settings, leak_terms, overridden
from sijil.publish.leak_scan import scan
from sijil.store.models_publish_gate import GateCheck

__all__ = ["Draft", "Failure", "enforce", "failures"]


@dataclass(frozen=True)
class Failure:
    check: GateCheck
    reason: str  # one phrase; never a matched term, codename or number


@dataclass(frozen=True)
class Draft:
    """A post's content before it gets a log index: what the gate checks and attests."""

    found: Reviewed
    content: dict[str, Any]
    derivatives: list[Derivative] = field(default_factory=list)
    media_failures: list[str] = field(default_factory=list)
    tier: RiskTier | None = None
    jitter_ppm: int | None = None
    event_end: datetime | None = None

    @property
    def content_sha256(self) -> str:
        return canonical_sha256(self.content)


def failures(
    session: Session, draft: Draft, *, now: datetime, reason: dict[str, str] | None = None
) -> list[Failure]:
    """Every check the draft fails, in a fixed order."""
    found, out = draft.found, []
    if languages(draft.content)["ar"] != "complete":
        out.append(Failure(GateCheck.LANGUAGES, "an Arabic text is missing"))
    if draft.tier is not None and draft.event_end is not None:
        settings = gate_settings(session)
        ready = earliest_publication(
            draft.event_end,
            draft.tier,
            base_delay=settings.base_delay,
            base_jitter=settings.base_jitter,
            jitter_ppm=draft.jitter_ppm,
        )
        if now < ready:
            out.append(
                Failure(
                    GateCheck.DELAY, f"held until {ready.date().isoformat()} ({draft.tier} tier)"
                )
            )
    body = {found.kind: draft.content, "reason": reason}
    for leak in scan(text_fields(body), leak_terms(session)):
        out.append(Failure(GateCheck.LEAK, leak.describe()))
    for problem in draft.media_failures:
        out.append(Failure(GateCheck.MEDIA, problem))
    if not attested(session, found.kind, found.subject, draft.content_sha256):
        out.append(
            Failure(
                GateCheck.ATTESTATION,
                "no attestation that faces, voices and rooftops were checked in this content",
            )
        )
    for report_id in found.reports:
        out.extend(Failure(GateCheck.FLAGGED, b) for b in publication_blockers(session, report_id))
    return out


def enforce(
    session: Session, draft: Draft, *, now: datetime, reason: dict[str, str] | None = None
) -> None:
    """Refuse the post with one line listing every check that failed and is not overridden."""
    allowed = overridden(session, draft.found.kind, draft.found.subject, draft.content_sha256)
    left = [f for f in failures(session, draft, now=now, reason=reason) if f.check not in allowed]
    if left:
        named = "; ".join(f"{f.check}: {f.reason}" for f in left)
        plural = "check" if len(left) == 1 else "checks"
        raise PublishRefused(
            f"the safety gate refused {draft.found.subject}: {len(left)} {plural} failed ({named})"
        )
