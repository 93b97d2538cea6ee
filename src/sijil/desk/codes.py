"""Public incident codes and the desk's typed ids.

An incident's code, ``SJ-2026-0007``, is allocated once and never changes: the
year it was recorded, then a per-year sequence. The sequence lives in one
``desk_counters`` row advanced by an atomic upsert (INSERT ... ON CONFLICT DO
UPDATE ... RETURNING, on SQLite and PostgreSQL alike), whose row lock holds
until commit: two writers never get the same number, and a transaction that
rolls back gives its number back. ``incidents.code`` is unique besides.

Typed ids name the desk's other records: assessments ``A-12``, places ``P-2158``,
claims ``C-40`` (sijil.desk.claims), verdicts ``V-3`` (sijil.desk.verdicts) and
sources ``S-3`` (sijil.desk.sources); :func:`parse_token` reads them all.
"""

from __future__ import annotations

import re

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from sijil.errors import UnknownCode
from sijil.store import DeskCounter

__all__ = [
    "CODE_PREFIX",
    "allocate_code",
    "assessment_token",
    "next_in_sequence",
    "normalize_code",
    "parse_token",
]

CODE_PREFIX = "SJ"
_CODE = re.compile(r"SJ-(\d{4})-(\d{1,9})", re.IGNORECASE)
_TOKEN = re.compile(r"([A-Za-z])-(\d{1,12})")


def next_in_sequence(session: Session, name: str) -> int:
    """Advance the counter ``name`` and return its new value (1 the first time)."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        upsert(DeskCounter)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=[DeskCounter.name], set_={"value": DeskCounter.value + 1}
        )
        .returning(DeskCounter.value)
    )
    return int(session.execute(stmt).scalar_one())


def allocate_code(session: Session, year: int) -> str:
    """The next public code for an incident recorded in ``year``."""
    number = next_in_sequence(session, f"incident:{year:04d}")
    return f"{CODE_PREFIX}-{year:04d}-{number:04d}"


def normalize_code(text: str) -> str:
    """``sj-2026-7`` style input as the stored form ``SJ-2026-0007``; anything else is refused."""
    match = _CODE.fullmatch(text.strip())
    if match is None:
        raise UnknownCode(f"{text.strip()[:40]!r} is not an incident code (like SJ-2026-0007)")
    return f"{CODE_PREFIX}-{match.group(1)}-{int(match.group(2)):04d}"


def assessment_token(assessment_id: int) -> str:
    return f"A-{assessment_id}"


def parse_token(text: str, *kinds: str) -> tuple[str, int]:
    """Split a typed id (``A-12``) into its kind letter and number, a kind among ``kinds``."""
    match = _TOKEN.fullmatch(text.strip())
    if match is None or match.group(1).upper() not in kinds:
        wanted = " or ".join(f"{k}-<number>" for k in kinds)
        raise UnknownCode(f"{text.strip()[:40]!r} is not an id of the form {wanted}")
    return match.group(1).upper(), int(match.group(2))
