"""A report with attachments in a store, for media fingerprints to hang on (media tests)."""

from __future__ import annotations

import itertools

from sijil.store import Attachment, Correspondent, Envelope, Report, Store, utcnow

_serial = itertools.count(1)


def report_attachments(store: Store, count: int) -> list[int]:
    """Register one report with ``count`` attachments; return their ids, in order."""
    n = next(_serial)
    with store.session(write=True) as session:
        sender = Correspondent(codename=f"media-{n}-{utcnow().timestamp()}", enrolled=True)
        envelope = Envelope(id=f"{n:032x}{count:032x}", size=1, channel="file", status="opened")
        report = Report(
            envelope=envelope, correspondent=sender, title="t", body="b", lang="en",
            created_at=utcnow(), manifest="{}", signature="00",
            attachments=[
                Attachment(position=i, name=f"f{i}", media_type="image/jpeg", size=1,
                           sha256=f"{n:032x}{i:032x}")
                for i in range(count)
            ],
        )  # fmt: skip
        session.add_all([envelope, report])
        session.flush()
        return [a.id for a in report.attachments]
