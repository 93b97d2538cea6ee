"""Sources as the desk shows them, each with a track record derived from its work.

Sources are the correspondents (by codename) and the outlets, officials and
monitors (``S-<n>``). Their track record is never typed in nor kept as a
counter: every figure is a query over what the desk has recorded, at the moment
it is asked:

- **items**: what the source gave the desk: a correspondent's reports; an
  outlet's or official's claims; a monitor's claims and records;
- **corroborated**: reports linked as *primary* or *corroborating* evidence to an
  incident whose current assessment grades it *confirmed* or *fair*, and claims
  whose current verdict is *accurate*;
- **contradicted**: reports linked as *contradicting* evidence to any incident,
  and claims whose current verdict is *false* or *misleading*;
- **claims_false_or_misleading**: the claims among those.

An item counts once per figure, however many incidents it is linked to. A
claim's current verdict is its newest approved one (:mod:`sijil.desk.verdicts`).
Nothing shown here carries a correspondent's key or key fingerprint.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from sijil.desk.claims import claim_token
from sijil.desk.sources import find_source, source_token
from sijil.desk.users import user_name
from sijil.desk.verdicts import current_verdicts, verdict_token
from sijil.store import (
    Assessment,
    Claim,
    ClaimVerdict,
    Correspondent,
    EvidenceLink,
    Incident,
    MonitorRecord,
    Report,
    ReportFlag,
    Source,
)
from sijil.store.models_claims import SourceKind, VerdictRating
from sijil.store.models_desk import EvidenceRole, Grading

__all__ = ["list_sources", "show_source"]

SUPPORTING = (str(EvidenceRole.PRIMARY), str(EvidenceRole.CORROBORATING))
STRONG = (str(Grading.CONFIRMED), str(Grading.FAIR))
REFUTED = (str(VerdictRating.FALSE), str(VerdictRating.MISLEADING))


def _counts(session: Session, query: Select[int, int]) -> dict[int, int]:
    return {key: int(n) for key, n in session.execute(query)}


def _only(
    query: Select[int, int],
    column: ColumnElement[int] | InstrumentedAttribute[int],
    one: int | None,
) -> Select[int, int]:
    return query if one is None else query.where(column == one)


def _correspondent_records(session: Session, one: int | None) -> dict[str, dict[int, int]]:
    by = Report.correspondent_id
    distinct = func.count(func.distinct(Report.id))
    # a report that is possibly coerced or sent under duress says nothing about its
    # source's record either way (sijil.desk.revocation); it is counted apart
    flagged = select(ReportFlag.report_id)
    trusted = Report.id.not_in(flagged)
    reports = select(by, func.count()).where(trusted).group_by(by)
    supported = (
        select(by, distinct)
        .join(EvidenceLink, EvidenceLink.report_id == Report.id)
        .join(Incident, Incident.id == EvidenceLink.incident_id)
        .join(Assessment, Assessment.id == Incident.current_assessment_id)
        .where(EvidenceLink.role.in_(SUPPORTING), Assessment.grading.in_(STRONG), trusted)
        .group_by(by)
    )
    against = (
        select(by, distinct)
        .join(EvidenceLink, EvidenceLink.report_id == Report.id)
        .where(EvidenceLink.role == str(EvidenceRole.CONTRADICTING), trusted)
        .group_by(by)
    )
    excluded = select(by, func.count()).where(Report.id.in_(flagged)).group_by(by)
    return {name: _counts(session, _only(q, by, one))
            for name, q in (("reports", reports), ("corroborated", supported),
                            ("contradicted", against), ("flagged", excluded))}  # fmt: skip


def _source_records(session: Session, one: int | None) -> dict[str, dict[int, int]]:
    by = Claim.source_id
    current = current_verdicts()
    rated = (
        select(by, func.count())
        .join(current, current.c.claim_id == Claim.id)
        .join(ClaimVerdict, ClaimVerdict.id == current.c.verdict_id)
        .group_by(by)
    )
    queries = {
        "claims": select(by, func.count()).group_by(by),
        "corroborated": rated.where(ClaimVerdict.rating == str(VerdictRating.ACCURATE)),
        "contradicted": rated.where(ClaimVerdict.rating.in_(REFUTED)),
    }
    found = {name: _counts(session, _only(q, by, one)) for name, q in queries.items()}
    records = select(MonitorRecord.source_id, func.count()).group_by(MonitorRecord.source_id)
    found["records"] = _counts(session, _only(records, MonitorRecord.source_id, one))
    return found


def _track(counts: dict[str, dict[int, int]], key: int) -> dict[str, int]:
    got = {name: per.get(key, 0) for name, per in counts.items()}
    reports, claims, records = got.get("reports", 0), got.get("claims", 0), got.get("records", 0)
    return {
        "items": reports + claims + records,
        "reports": reports,
        "claims": claims,
        "records": records,
        "corroborated": got["corroborated"],
        "contradicted": got["contradicted"],
        "claims_false_or_misleading": 0 if "claims" not in got else got["contradicted"],
    }


def _correspondent_dict(
    person: Correspondent, track: dict[str, int], counts: dict[str, dict[int, int]]
) -> dict[str, Any]:
    # deliberately field by field: never sign_key, reply_key, fingerprint or invite hash
    return {
        # reports left out of the track record: possibly coerced or sent under duress
        "flagged_reports": counts["flagged"].get(person.id, 0),
        "id": person.codename,
        "kind": str(SourceKind.CORRESPONDENT),
        "name": person.codename,
        "name_ar": None,
        "enrolled": person.enrolled,
        "since": (person.enrolled_at or person.created_at).isoformat(),
        "track_record": track,
    }


def _source_dict(source: Source, track: dict[str, int]) -> dict[str, Any]:
    return {
        "id": source_token(source.id),
        "kind": source.kind,
        "name": source.name,
        "name_ar": source.name_ar,
        "enrolled": None,
        "since": source.created_at.isoformat(),
        "track_record": track,
    }


def list_sources(session: Session, *, kind: SourceKind | str | None = None) -> list[dict[str, Any]]:
    """Every source (or those of one kind) with its track record: correspondents first."""
    kind = None if kind is None else SourceKind(kind)
    shown: list[dict[str, Any]] = []
    if kind in (None, SourceKind.CORRESPONDENT):
        counts = _correspondent_records(session, None)
        people = session.scalars(select(Correspondent).order_by(Correspondent.codename))
        shown += [_correspondent_dict(p, _track(counts, p.id), counts) for p in people]
    if kind != SourceKind.CORRESPONDENT:
        counts = _source_records(session, None)
        query = select(Source).order_by(Source.kind, Source.name)
        if kind is not None:
            query = query.where(Source.kind == str(kind))
        shown += [_source_dict(s, _track(counts, s.id)) for s in session.scalars(query)]
    return shown


def show_source(session: Session, text: str) -> dict[str, Any]:
    """One source (``S-3``, a name or a codename) with its track record and what it rests on."""
    found = find_source(session, text)
    if isinstance(found, Correspondent):
        counts = _correspondent_records(session, found.id)
        view = _correspondent_dict(found, _track(counts, found.id), counts)
        links = session.execute(
            select(EvidenceLink.report_id, Incident.code, EvidenceLink.role)
            .join(Report, Report.id == EvidenceLink.report_id)
            .join(Incident, Incident.id == EvidenceLink.incident_id)
            .where(Report.correspondent_id == found.id)
            .order_by(EvidenceLink.report_id, EvidenceLink.id)
        )
        view["evidence"] = [
            {"report": r, "incident": code, "role": role} for r, code, role in links
        ]
        return view
    view = _source_dict(found, _track(_source_records(session, found.id), found.id))
    view["created_by"] = user_name(session, found.created_by)
    current = current_verdicts()
    rated = session.execute(
        select(Claim.id, ClaimVerdict.id, ClaimVerdict.rating)
        .join(current, current.c.claim_id == Claim.id)
        .join(ClaimVerdict, ClaimVerdict.id == current.c.verdict_id)
        .where(Claim.source_id == found.id)
        .order_by(Claim.id)
    )
    view["rated_claims"] = [{"claim": claim_token(c), "verdict": verdict_token(v), "rating": r}
                            for c, v, r in rated]  # fmt: skip
    return view
