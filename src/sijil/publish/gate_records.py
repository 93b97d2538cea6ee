"""What the safety gate reads and editors record: settings, risk tiers, attestations,
overrides and the deny list. Every change is a custody-ledger entry (``user.action``)
whose data carries ids, classes and digests, never a deny-list term or a reason's text.

Desk settings (rows of ``desk_settings``; defaults in :data:`SETTINGS`):

* ``publish.delay_hours`` — the base delay after an event ends; a tier multiplies it;
* ``publish.jitter_hours`` — the base range of the random extra delay; likewise;
* ``publish.default_tier`` — the risk tier of an incident no editor has tiered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sijil.desk.custody import Clock, begin_change, canonical_sha256, record, utcnow
from sijil.desk.incidents import get_incident
from sijil.desk.users import EDITING, is_solo, require_user
from sijil.errors import DeskError, PublishRefused
from sijil.publish.coarsen import JITTER_SCALE
from sijil.publish.leak_scan import Term, term_key
from sijil.store import (
    Correspondent,
    DenyTerm,
    DeskSetting,
    Incident,
    IncidentRisk,
    PublishAttestation,
    PublishOverride,
)
from sijil.store.models_desk import Role
from sijil.store.models_publish_gate import DENY_CLASSES, GateCheck, RiskTier, TermClass

__all__ = [
    "ATTESTED_CHECKS",
    "OVERRIDABLE",
    "SETTINGS",
    "GateSettings",
    "Setting",
    "add_deny_term",
    "approve_override",
    "attested",
    "deny_terms",
    "gate_settings",
    "leak_terms",
    "overridden",
    "record_attestation",
    "remove_deny_term",
    "set_setting",
    "set_tier",
    "setting_values",
    "tier_of",
]

#: What an attestation says was checked in everything a post shows.
ATTESTED_CHECKS = ("faces", "rooftops", "voices")
#: Checks two people may override. Review, media metadata and flagged reports never:
#: unreviewed work is not the desk's; a file with metadata names its maker; a flagged
#: report has its own two-person clearing (sijil.desk.revocation).
OVERRIDABLE = frozenset(
    {GateCheck.DELAY, GateCheck.LEAK, GateCheck.LANGUAGES, GateCheck.ATTESTATION}
)
# A term is a name or a number, not a paragraph (the column holds 255).
MAX_TERM = 255
MAX_REASON = 1000


@dataclass(frozen=True)
class Setting:
    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    "publish.delay_hours": Setting("24", "hours after an event ends before a post (× tier factor)"),
    "publish.jitter_hours": Setting("12", "hours of random extra delay at most (× tier factor)"),
    "publish.default_tier": Setting(str(RiskTier.ELEVATED), "risk tier of an untiered incident"),
}


@dataclass(frozen=True)
class GateSettings:
    base_delay: timedelta
    base_jitter: timedelta
    default_tier: RiskTier


def _value(session: Session, name: str) -> str:
    row = session.get(DeskSetting, name)
    return SETTINGS[name].default if row is None else row.value


def _check_setting(name: str, value: str) -> str:
    if name not in SETTINGS:
        raise DeskError(f"no publishing setting {name!r}; there are {', '.join(SETTINGS)}")
    if name == "publish.default_tier":
        return str(_tier(value))
    if not value.isdigit() or int(value) > 24 * 366:
        raise DeskError(f"{name} is a whole number of hours, at most a year")
    return str(int(value))


def _tier(value: str) -> RiskTier:
    try:
        return RiskTier(value)
    except ValueError:
        raise DeskError(f"a risk tier is one of {', '.join(RiskTier)}") from None


def gate_settings(session: Session) -> GateSettings:
    return GateSettings(
        base_delay=timedelta(hours=int(_value(session, "publish.delay_hours"))),
        base_jitter=timedelta(hours=int(_value(session, "publish.jitter_hours"))),
        default_tier=RiskTier(_value(session, "publish.default_tier")),
    )


def setting_values(session: Session) -> list[tuple[str, str, Setting]]:
    """Every publishing setting: its name, current value and declaration (default, help)."""
    return [(name, _value(session, name), setting) for name, setting in SETTINGS.items()]


def set_setting(
    session: Session, name: str, value: str, *, by: str | None, clock: Clock = utcnow
) -> None:
    """Change a publishing setting (admins only)."""
    begin_change(session)
    user = require_user(session, by, Role.ADMIN)
    value = _check_setting(name, value.strip())
    now = clock()
    row = session.get(DeskSetting, name)
    if row is None:
        session.add(DeskSetting(name=name, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    session.flush()
    record(
        session,
        action="publish.setting",
        subject="desk",
        by=user.id,
        data={"setting": name, "value": value},
        at=now,
    )


def tier_of(session: Session, incident: Incident) -> tuple[RiskTier, int | None]:
    """The incident's risk tier and its drawn jitter (None: not drawn, the whole range holds)."""
    row = session.get(IncidentRisk, incident.id)
    default = gate_settings(session).default_tier
    if row is None:
        return default, None
    return (default if row.tier is None else RiskTier(row.tier)), row.jitter_ppm


def _risk_row(session: Session, incident: Incident, user_id: int, now: object) -> IncidentRisk:
    row = session.get(IncidentRisk, incident.id)
    if row is None:
        # drawn once: a refused post retried later never draws a shorter wait
        row = IncidentRisk(
            incident_id=incident.id,
            tier=None,
            jitter_ppm=secrets.randbelow(JITTER_SCALE),
            set_at=now,
            set_by=user_id,
        )
        session.add(row)
    return row


def set_tier(
    session: Session, code: str, tier: str, *, by: str | None, clock: Clock = utcnow
) -> RiskTier:
    """Set incident ``code``'s risk tier (editors)."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    incident = get_incident(session, code)
    chosen = _tier(tier)
    now = clock()
    row = _risk_row(session, incident, user.id, now)
    row.tier, row.set_at, row.set_by = str(chosen), now, user.id
    session.flush()
    record(
        session,
        action="publish.tier",
        subject=incident.code,
        by=user.id,
        data={"incident": incident.code, "tier": str(chosen)},
        at=now,
    )
    return chosen


def record_attestation(
    session: Session,
    *,
    kind: str,
    subject: str,
    content_sha256: str,
    incident: Incident | None,
    by: str | None,
    clock: Clock = utcnow,
) -> None:
    """An editor's word that faces, voices and rooftops in this content were checked."""
    user = require_user(session, by, *EDITING)
    now = clock()
    if incident is not None:
        _risk_row(session, incident, user.id, now)
    session.add(
        PublishAttestation(
            kind=kind,
            subject=subject,
            content_sha256=content_sha256,
            checks=" ".join(ATTESTED_CHECKS),
            attested_at=now,
            attested_by=user.id,
        )
    )
    session.flush()
    record(
        session,
        action="publish.attested",
        subject=subject,
        by=user.id,
        data={"kind": kind, "content_sha256": content_sha256, "checks": list(ATTESTED_CHECKS)},
        at=now,
    )


def attested(session: Session, kind: str, subject: str, content_sha256: str) -> bool:
    rows = session.scalars(
        select(PublishAttestation.checks).where(
            PublishAttestation.kind == kind,
            PublishAttestation.subject == subject,
            PublishAttestation.content_sha256 == content_sha256,
        )
    )
    return any(set(ATTESTED_CHECKS) <= set(r.split()) for r in rows)


def approve_override(
    session: Session,
    *,
    kind: str,
    subject: str,
    content_sha256: str,
    check: str,
    reason: str,
    by: str | None,
    clock: Clock = utcnow,
) -> int:
    """One person's approval to publish despite ``check``; returns how many have approved."""
    user = require_user(session, by, Role.ADMIN, Role.REVIEWER, *EDITING)
    if is_solo(session):
        raise PublishRefused("a solo desk cannot override the safety gate: it needs two people")
    try:
        gate_check = GateCheck(check)
    except ValueError:
        raise DeskError(
            f"the checks two people may override are {', '.join(sorted(OVERRIDABLE))}"
        ) from None
    if gate_check not in OVERRIDABLE:
        raise PublishRefused(f"the {gate_check} check cannot be overridden")
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON:
        raise DeskError(f"say why, in at most {MAX_REASON} characters (--reason)")
    mine = {
        "kind": kind,
        "subject": subject,
        "content_sha256": content_sha256,
        "check_name": str(gate_check),
    }
    if session.scalar(select(PublishOverride.id).filter_by(**mine, approved_by=user.id)):
        raise PublishRefused(f"{user.name} already approved this override; another person must")
    now = clock()
    session.add(PublishOverride(**mine, reason=reason, approved_at=now, approved_by=user.id))
    session.flush()
    record(
        session,
        action="publish.override",
        subject=subject,
        by=user.id,
        data={
            "kind": kind,
            "content_sha256": content_sha256,
            "check": str(gate_check),
            "reason_sha256": canonical_sha256(reason),
        },
        at=now,
    )
    return (
        session.scalar(
            select(func.count(func.distinct(PublishOverride.approved_by))).filter_by(**mine)
        )
        or 0
    )


def overridden(session: Session, kind: str, subject: str, content_sha256: str) -> set[GateCheck]:
    """The checks two different people approved overriding for this content (none if solo)."""
    if is_solo(session):
        return set()
    rows = session.execute(
        select(PublishOverride.check_name, func.count(func.distinct(PublishOverride.approved_by)))
        .where(
            PublishOverride.kind == kind,
            PublishOverride.subject == subject,
            PublishOverride.content_sha256 == content_sha256,
        )
        .group_by(PublishOverride.check_name)
    ).all()
    return {
        GateCheck(name) for name, people in rows if people >= 2 and GateCheck(name) in OVERRIDABLE
    }


def add_deny_term(
    session: Session, term: str, term_class: str, *, by: str | None, clock: Clock = utcnow
) -> DenyTerm:
    """Add a term the desk never publishes (editors); the ledger holds only its digest."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    if term_class not in DENY_CLASSES:
        raise DeskError(f"a deny-list class is one of {', '.join(DENY_CLASSES)}")
    text = " ".join(term.split())
    key = term_key(text) or text
    if not key or len(text) > MAX_TERM:
        raise DeskError(f"a deny-list term is 1 to {MAX_TERM} characters with a letter or digit")
    if session.scalar(select(DenyTerm.id).where(DenyTerm.key == key)) is not None:
        raise DeskError("that term is already on the deny list")
    now = clock()
    row = DenyTerm(term=text, term_class=term_class, key=key, added_at=now, added_by=user.id)
    session.add(row)
    session.flush()
    record(
        session,
        action="publish.deny_added",
        subject="deny-list",
        by=user.id,
        data={"term": row.id, "class": term_class, "key_sha256": canonical_sha256(key)},
        at=now,
    )
    return row


def remove_deny_term(
    session: Session, term_id: int, *, by: str | None, clock: Clock = utcnow
) -> None:
    """Take term ``term_id`` off the deny list (editors); the ledger holds only its id."""
    begin_change(session)
    user = require_user(session, by, *EDITING)
    row = session.get(DenyTerm, term_id)
    if row is None:
        raise DeskError(f"no deny-list term {term_id} (see 'sijil publish deny list')")
    term_class = row.term_class
    session.delete(row)
    session.flush()
    record(
        session,
        action="publish.deny_removed",
        subject="deny-list",
        by=user.id,
        data={"term": term_id, "class": term_class},
        at=clock(),
    )


def deny_terms(session: Session) -> list[DenyTerm]:
    return list(session.scalars(select(DenyTerm).order_by(DenyTerm.id)))


def leak_terms(session: Session) -> list[Term]:
    """What the leak scan looks for: every codename, and the deny list."""
    codenames = [
        Term(c, TermClass.CODENAME) for c in session.scalars(select(Correspondent.codename))
    ]
    return codenames + [Term(d.term, TermClass(d.term_class)) for d in deny_terms(session)]
