"""The demo's verification desk: the night's reports become incidents, checked and reviewed.

Two editors work as a real desk would: Layla (admin, editor) groups the reports into
incidents, links the evidence, proposes a casualty range and rates the state outlet's
"only a weapons depot was hit" claim false, citing the photos; Omar (reviewer) approves
both. Every step goes through the same sijil.desk functions the CLI and the web app
call, so each is a custody-ledger entry that ``sijil verify`` checks afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from sijil.desk import assessments, claims, evidence, incidents, sources, users, verdicts
from sijil.desk.casualties import parse_count
from sijil.desk.codes import assessment_token
from sijil.desk.home import DeskHome
from sijil.desk.incident_view import show_incident
from sijil.desk.reports import ReportRow
from sijil.desk.search import SearchFilters, search

__all__ = ["desk_at_work"]

EDITOR, REVIEWER = "Layla", "Omar"


@dataclass(frozen=True)
class _Planned:
    title_ar: str
    title_en: str
    kind: str
    minute: int  # after 01:00 local time
    at: str  # "lat,lon" as the correspondents reported it
    reports: tuple[tuple[str, str], ...]  # (title prefix, role)


BAKERY = _Planned(
    "غارة على طابور الخبز أمام الفرن الآلي في حي الدرعية",
    "Strike on the bread queue at the automatic bakery, al-Daraiya",
    "airstrike",
    15,
    "35.9519,39.0143",
    (
        ("غارة على طابور الفرن", "primary"),
        ("Bakery queue strike", "corroborating"),
        ("Bakery queue: a baker", "context"),
    ),
)
BLOCK = _Planned(
    "انهيار مبنى سكني في شارع تل أبيض بعد غارة",
    "Residential block destroyed by a strike, Tal Abyad Street",
    "airstrike",
    60,
    "35.9590,39.0074",
    (
        ("مبنى سكني مدمر", "primary"),
        ("Claim check: 'only a weapons depot", "corroborating"),
        ("الدفاع المدني ينتشل", "corroborating"),
    ),
)
# Falcon counted 7 dead and at least 19 wounded at the hospital, four children among
# them; the names were still being collected, so the desk keeps honest ranges.
BAKERY_COUNTS = (
    "killed:civilian:all=7-9",
    "killed:civilian:child=1-4",
    "injured:civilian:all=19-30",
)


def _report_ids(rows: Sequence[ReportRow], planned: _Planned) -> list[tuple[int, str]]:
    found = []
    for prefix, role in planned.reports:
        matches = [r.id for r in rows if r.title.startswith(prefix)]
        if matches:
            found.append((min(matches), role))
    return found


def _open_incident(session: Session, *, planned: _Planned, night: datetime) -> str:
    return incidents.create_incident(
        session,
        title_ar=planned.title_ar,
        title_en=planned.title_en,
        incident_type=planned.kind,
        start=night + timedelta(minutes=planned.minute),
        date_prec=1,
        at=planned.at,
        where_prec=1,
        by=EDITOR,
    ).code


def _link(session: Session, *, code: str, report_id: int, role: str) -> str:
    link = evidence.link_report(
        session, code, report_id=report_id, role=role, confidence="likely", by=EDITOR
    )
    return str(link.id)


def desk_at_work(
    desk: DeskHome,
    rows: Sequence[ReportRow],
    night: datetime,
    echo: Callable[[str], None],
) -> tuple[list[int], tuple[str, str, str]]:
    """Play the desk's part; return the report ids linked as evidence and what to publish
    (the reviewed incident, the reviewed verdict and the editor)."""
    linked: list[int] = []
    with desk.open_store() as store:

        def act(step: Callable[[Session], str]) -> str:
            with store.session(write=True) as session:
                return step(session)

        act(lambda s: users.add_user(s, EDITOR, ["admin", "editor"], by=None).name)
        act(lambda s: users.add_user(s, REVIEWER, ["reviewer"], by=EDITOR).name)
        echo(f"  desk users: {EDITOR} (admin, editor), {REVIEWER} (reviewer); author ≠ reviewer")
        codes: dict[_Planned, str] = {}
        for planned in (BAKERY, BLOCK):
            code = act(partial(_open_incident, planned=planned, night=night))
            codes[planned] = code
            found = _report_ids(rows, planned)
            for report_id, role in found:
                act(partial(_link, code=code, report_id=report_id, role=role))
                linked.append(report_id)
            echo(f"  {code}  {planned.title_en}  ({len(found)} reports linked as evidence)")

        bakery = codes[BAKERY]
        summary_ar = "سبعة إلى تسعة قتلى مدنيين بينهم أطفال، وتسعة عشر جريحاً على الأقل."
        summary_en = "Seven to nine civilians killed, children among them; at least 19 wounded."
        token = act(
            lambda s: assessment_token(
                assessments.propose_assessment(
                    s,
                    bakery,
                    grading="fair",
                    harm="yes",
                    counts=[parse_count(c) for c in BAKERY_COUNTS],
                    summary_ar=summary_ar,
                    summary_en=summary_en,
                    by=EDITOR,
                ).id
            )
        )
        echo(f"  {EDITOR} proposes {token} for {bakery}: fair; " + "; ".join(BAKERY_COUNTS))
        act(
            lambda s: str(
                verdicts.review_item(
                    s, token, approve=True, comment="Hospital count checked.", by=REVIEWER
                ).id
            )
        )
        with store.session() as session:
            shown = show_incident(session, bakery)["current_assessment"]
        echo(
            f"  {REVIEWER} approves {token}: current assessment, reviewed by {shown['reviewed_by']}"
        )

        act(
            lambda s: sources.add_source(
                s, "outlet", "State news agency", name_ar="وكالة الأنباء الرسمية", by=EDITOR
            ).name
        )
        claim = act(
            lambda s: claims.claim_token(
                claims.add_claim(
                    s,
                    source="State news agency",
                    title="Only a weapons depot was hit on Tal Abyad Street",
                    by=EDITOR,
                ).id
            )
        )
        act(lambda s: str(claims.link_claim(s, claim, incident=codes[BLOCK], by=EDITOR)))
        photos = [r for r, _ in _report_ids(rows, BLOCK)]
        verdict = act(
            lambda s: verdicts.verdict_token(
                verdicts.propose_verdict(
                    s,
                    claim,
                    rating="false",
                    summary_ar="الصور تُظهر مبنى سكنياً بشرفات وخزان ماء، لا مستودع أسلحة.",
                    summary_en="The photos show a residential block with balconies and a "
                    "water tank, not a weapons depot.",
                    evidence=photos,
                    by=EDITOR,
                ).id
            )
        )
        act(
            lambda s: str(
                verdicts.review_item(
                    s, verdict, approve=True, comment="Photos match the street.", by=REVIEWER
                ).id
            )
        )
        reports = ", ".join(f"#{r}" for r in photos)
        echo(f"  claim {claim} (State news agency): 'only a weapons depot was hit'")
        echo(f"    rated false as {verdict} with reports {reports}; approved by {REVIEWER}")
        with store.session() as session:
            _search(session, echo)
    return linked, (bakery, verdict, EDITOR)


def _search(session: Session, echo: Callable[[str], None]) -> None:
    """Search as an editor types: with vowel marks, and a transliteration."""
    for query in ("الفُرْن", "bakery queue"):
        hits = search(session, query, SearchFilters(limit=3))
        echo(f"  search {query!r}: " + "; ".join(f"{h.kind} {h.id} {h.title}" for h in hits))
