"""What the public site carries of the custody ledger: one signed tree head, never entries.

A reader (or a court, later) can hold the desk to it: any evidence package the desk
exports afterwards proves its reports are in a ledger that extends this head. The
site shows the newest head that is at least a day old, because a fresh head's time
says when the desk last took something in; entries and hashes of originals never
leave the desk (DESIGN, "The public record").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sijil.ledger.heads import SignedHead
from sijil.store import LedgerHead

__all__ = ["HEADS_PATH", "MIN_HEAD_AGE", "heads_file"]

HEADS_PATH = "ledger/heads.json"
# A head younger than this could date the desk's latest intake to the hour.
MIN_HEAD_AGE = timedelta(days=1)


def heads_file(session: Session, *, now: datetime) -> bytes | None:
    """``ledger/heads.json``: the newest head issued before ``now - MIN_HEAD_AGE``, if any."""
    head = session.scalars(
        select(LedgerHead)
        .where(LedgerHead.issued_at <= now - MIN_HEAD_AGE)
        .order_by(LedgerHead.tree_size.desc(), LedgerHead.id.desc())
        .limit(1)
    ).first()
    if head is None:
        return None
    # the same form as an evidence package's heads (docs/ledger.md): the body exactly
    # as the desk's ledger key signed it, and the signature in base64
    signed = SignedHead.of_row(head).to_dict()
    text = json.dumps({"heads": [signed]}, ensure_ascii=False, indent=1, sort_keys=True)
    return (text + "\n").encode("utf-8")
