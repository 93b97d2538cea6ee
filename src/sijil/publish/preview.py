"""What posting a subject now would publish, and what the safety gate says, writing nothing.

:func:`preview` is ``sijil publish check``: the draft's next action and version,
its coarsened place and date, and every gate check it fails (marking those two
people have overridden). :func:`describe_post` says what a stored post shows in
one line per part, for the CLI after a post and for the preview.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sijil.publish.gate import Draft, Failure, failures
from sijil.publish.gate_records import overridden
from sijil.publish.posting import Reader, draft, versions
from sijil.store.models_publish import PostAction
from sijil.store.models_publish_gate import GateCheck

__all__ = ["Preview", "describe_post", "describe_when", "describe_where", "preview"]

_DATE_PREC = {1: "day", 2: "week", 3: "month", 4: "part of a year", 5: "year"}
_WHERE_PREC = {
    1: "exact",
    2: "H3 cell",
    3: "district",
    4: "governorate",
    5: "along a line",
    6: "country",
    7: "country",
}


@dataclass(frozen=True)
class Preview:
    """The gate's verdict on a subject's current content, had it been posted ``now``."""

    made: Draft
    action: str | None  # post or correction; None: it cannot be posted again
    version: int
    blocked: str | None  # why no post can follow (already retracted), else None
    failures: list[Failure]
    overridden: set[GateCheck]

    @property
    def failing(self) -> list[Failure]:
        return [f for f in self.failures if f.check not in self.overridden]

    @property
    def passes(self) -> bool:
        return self.blocked is None and not self.failing


def preview(
    session: Session,
    target: str,
    *,
    media: Sequence[str] = (),
    read: Reader | None = None,
    now: datetime,
) -> Preview:
    """Build ``target``'s draft and run every gate check on it; read only."""
    made = draft(session, target, media=media, read=read)
    found = made.found
    earlier = versions(session, found.kind, found.subject)
    blocked: str | None = None
    action: str | None = str(PostAction.POST)
    if earlier and earlier[-1].action == PostAction.RETRACTION:
        blocked, action = f"{found.subject} was retracted; it cannot be posted again", None
    elif earlier:
        action = str(PostAction.CORRECTION)
    return Preview(
        made=made,
        action=action,
        version=len(earlier) + 1,
        blocked=blocked,
        failures=failures(session, made, now=now),
        overridden=overridden(session, found.kind, found.subject, made.content_sha256),
    )


def describe_where(where: dict[str, Any]) -> str:
    """``Ar-Raqqa / الرقة at 35.95, 39.01 (H3 cell 86...)``, as the post shows it."""
    name = f"{where['name']['en']} / {where['name']['ar']}"
    point = "" if where.get("lat") is None else f" at {where['lat']}, {where['lon']}"
    prec = _WHERE_PREC.get(int(where["where_prec"]), str(where["where_prec"]))
    cell = f" {where['h3']}" if where.get("h3") else ""
    return f"{name}{point} ({prec}{cell})"


def describe_when(when: dict[str, Any]) -> str:
    """``2017-06-05 to 2017-06-11 (week)``."""
    span = when["start"] if not when.get("end") else f"{when['start']} to {when['end']}"
    return f"{span} ({_DATE_PREC.get(int(when['date_prec']), str(when['date_prec']))})"


def describe_post(body: bytes) -> list[str]:
    """What a stored post says, in a few lines: entry, subject, version, where and when."""
    post = json.loads(body)
    review = "independently reviewed" if post["independently_reviewed"] else "solo desk"
    supersedes = "" if post["supersedes"] is None else f", supersedes entry {post['supersedes']}"
    lines = [
        f"log entry {post['log_index']}: {post['action']} of {post['kind']} {post['subject']}"
        f" version {post['version']}{supersedes}, published {post['published_at']} ({review})"
    ]
    incident = post.get("incident")
    if incident is not None:
        lines.append(f"where: {describe_where(incident['where'])}")
        lines.append(f"when: {describe_when(incident['when'])}")
        if incident["media"]:
            lines.append(f"media: {len(incident['media'])} re-encoded file(s)")
    pending = [lang for lang, state in post["languages"].items() if state != "complete"]
    if pending:
        lines.append(f"pending translation: {', '.join(pending)}")
    return lines
