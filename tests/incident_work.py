"""Desk work on a desk holding real evidence: an incident, its evidence, attribution,
an approved assessment, one sent back, a report link (audit and export tests)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from conftest import Evidence
from desk_work_helpers import Clock, Desk
from sijil.desk.actors import add_actor
from sijil.desk.assessments import propose_assessment, review
from sijil.desk.casualties import parse_count
from sijil.desk.codes import assessment_token
from sijil.desk.evidence import attribute, link_report, link_reports
from sijil.desk.incidents import IncidentChanges, edit_incident
from sijil.store import Attachment, Report, Store, utcnow

COUNTS = ("killed:civilian:all=7-11", "killed:civilian:child=3-5", "injured:civilian:all=10-20")


@dataclass
class IncidentWork:
    evidence: Evidence
    code: str
    reports: list[int]  # linked as evidence: the first with its photo, the second whole
    approved: str  # the current assessment, approved by dima
    sent_back: str  # a later one, sent back with a comment


def _reports(store: Store) -> list[int]:
    """Two reports with a photo, then one without."""
    with store.session() as session:
        with_photo = sorted(set(session.scalars(select(Attachment.report_id))))
        others = session.scalars(select(Report.id).where(Report.id.not_in(with_photo))).all()
    return [*with_photo, *sorted(others)]


def _assess(desk: Desk, code: str, by: str, counts: tuple[str, ...], grading: str) -> str:
    with desk.tx() as s:
        made = propose_assessment(
            s, code, grading=grading, harm="yes", counts=[parse_count(c) for c in counts],
            summary_ar="قصف سوق", summary_en="A market was struck.", by=by, clock=desk.clock,
        )  # fmt: skip
        return assessment_token(made.id)


def incident_work(
    evidence: Evidence, *, note: str = "craters match the market stalls"
) -> IncidentWork:
    """Do a night's desk work on the evidence, through the desk's own functions."""
    with evidence.desk.home.open_store() as store:
        desk = Desk(store, clock=Clock(utcnow()))
        desk.users(amal="admin editor", badr="editor reviewer", dima="reviewer", omar="viewer")
        reports = _reports(store)
        code = desk.incident()
        with desk.tx() as s:
            changes = IncidentChanges(title_en="Airstrike on the Raqqa vegetable market")
            edit_incident(s, code, if_version=1, changes=changes, by="badr", clock=desk.clock)
            add_actor(s, name_en="Coalition", name_ar="التحالف", aliases=["CJTF-OIR"], by="amal",
                      clock=desk.clock)  # fmt: skip
        with desk.tx() as s:
            link_report(s, code, report_id=reports[0], attachment=0, role="primary",
                        confidence="certain", note=note, by="badr", clock=desk.clock)  # fmt: skip
            link_report(s, code, report_id=reports[1], role="corroborating", by="amal",
                        clock=desk.clock)  # fmt: skip
            link_reports(s, reports[0], reports[1], kind="same_event", by="amal", clock=desk.clock)
            attribute(s, code, actor="CJTF-OIR", stance="suspected", basis="flight logs",
                      by="amal", clock=desk.clock)  # fmt: skip
        approved = _assess(desk, code, "amal", COUNTS, "fair")
        with desk.tx() as s:
            review(s, approved, approve=True, comment="hospital confirmed 9 dead", by="dima",
                   clock=desk.clock)  # fmt: skip
        sent_back = _assess(desk, code, "badr", ("killed:civilian:all=20",), "confirmed")
        with desk.tx() as s:
            review(s, sent_back, approve=False, comment="20 has no source", by="dima",
                   clock=desk.clock)  # fmt: skip
    return IncidentWork(evidence=evidence, code=code, reports=reports[:2], approved=approved,
                        sent_back=sent_back)  # fmt: skip
