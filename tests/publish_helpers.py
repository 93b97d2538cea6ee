"""A desk ready to publish: a reviewed incident with a photo, a reviewed verdict, a key.

``make_publish_desk`` (a fixture factory in tests/test_publish_*.py, from
:func:`publish_desk_factory`) gives a :class:`PublishDesk` on the ``evidence`` desk
(SQLite and PostgreSQL): incident work as tests/incident_work.py leaves it, a
publication key, and a claim linked to the incident whose verdict dima approved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import PASSPHRASE, Evidence
from desk_work_helpers import Clock
from incident_work import IncidentWork, incident_work
from sijil.crypto.kdf import KdfParams
from sijil.desk.claims import add_claim, claim_token, link_claim
from sijil.desk.sources import add_source
from sijil.desk.verdicts import propose_verdict, review_verdict, verdict_token
from sijil.publish.keys import PublicationKey
from sijil.store import Attachment, EvidenceLink, Incident, Store, utcnow
from sijil.vault import Vault


@dataclass
class PublishDesk:
    work: IncidentWork
    key: PublicationKey
    verdict: str  # V-<n>, approved and current
    claim: str  # C-<n>
    photo: str  # SHA-256 of the photo attached to the incident's primary evidence
    clock: Clock

    @property
    def code(self) -> str:
        return self.work.code

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with self.work.evidence.desk.home.open_store() as store, store.session(write=True) as s:
            yield s

    def store(self) -> Store:
        return self.work.evidence.desk.home.open_store()

    def vault(self) -> Vault:
        home = self.work.evidence.desk.home
        return home.open_vault(home.unlock(PASSPHRASE))


def publish_desk(evidence: Evidence, fast_kdf: KdfParams) -> PublishDesk:
    work = incident_work(evidence)
    home = evidence.desk.home
    key = PublicationKey.init(home, PASSPHRASE, fast_kdf, origin="example.org/sijil-test")
    clock = Clock(utcnow())
    desk = PublishDesk(work=work, key=key, verdict="", claim="", photo="", clock=clock)
    with desk.tx() as s:
        add_source(s, "outlet", "sana", by="amal", clock=clock)
        claim = add_claim(
            s,
            source="sana",
            title="Only a weapons depot was hit",
            body="The strike hit a depot.",
            claim_date=date(2017, 6, 7),
            by="amal",
            clock=clock,
        )
        link_claim(s, claim_token(claim.id), incident=work.code, by="amal", clock=clock)
        verdict = propose_verdict(
            s,
            claim_token(claim.id),
            rating="misleading",
            summary_ar="السوق أصيب أيضاً",
            summary_en="The market was hit too.",
            evidence=work.reports,
            by="amal",
            clock=clock,
        )
        desk.claim, desk.verdict = claim_token(claim.id), verdict_token(verdict.id)
    with desk.tx() as s:
        review_verdict(s, desk.verdict, approve=True, comment="ok", by="dima", clock=clock)
        incident = s.scalar(select(Incident).where(Incident.code == work.code))
        assert incident is not None
        desk.photo = (
            s.scalar(
                select(Attachment.sha256)
                .join(EvidenceLink, EvidenceLink.attachment_id == Attachment.id)
                .where(EvidenceLink.incident_id == incident.id)
            )
            or ""
        )
    return desk


def publish_desk_factory(evidence: Evidence, fast_kdf: KdfParams) -> Callable[[], PublishDesk]:
    return lambda: publish_desk(evidence, fast_kdf)
