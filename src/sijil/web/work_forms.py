"""The forms of the claims board, the users page, assignment and replies, parsed once.

Each ``parse_*`` takes the form the gate handed on (sijil.web.guard: one value
per field, small, urlencoded) or an address part, and returns a typed value or
raises FormError (a 400 page in the reader's language). Hostile characters,
oversized values and choices not offered are refused here (sijil.web.pages.field);
the rules of the records themselves stay in sijil.desk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sijil.desk.assignments import AssignmentKind
from sijil.desk.report_reply import MAX_REPLY
from sijil.errors import FormError
from sijil.store.models_claims import VerdictRating
from sijil.store.models_desk import Role
from sijil.web.pages import field

__all__ = [
    "MAX_COMMENT",
    "MAX_NAME",
    "MAX_VERDICT_SUMMARY",
    "AssignForm",
    "ReviewForm",
    "VerdictForm",
    "parse_assign",
    "parse_claim_token",
    "parse_id",
    "parse_incident_code",
    "parse_new_user",
    "parse_reply",
    "parse_review",
    "parse_roles",
    "parse_source_token",
    "parse_verdict",
    "parse_version",
]

_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_ID = 2**31 - 1
_CLAIM = re.compile(r"[Cc]-([1-9][0-9]{0,9})")
#: An incident code as the desk prints it (``SJ-2026-0007``); sijil.desk.codes checks it.
_INCIDENT = re.compile(r"[A-Za-z0-9-]{1,16}")
MAX_CODE = 16
#: A desk user's name (sijil.desk.users allows 64 characters).
MAX_NAME = 64
#: A source is ``S-<n>`` or a correspondent's codename (at most 64 characters).
MAX_SOURCE = 64
#: A verdict's summary in each language (sijil.desk.assessments' limit is larger; a
#: form of two summaries must fit the gate's 16 KiB body url-encoded).
MAX_VERDICT_SUMMARY = 1200
_VERSION = re.compile(r"[0-9a-f]{16}")


def parse_id(value: str | None, name: str) -> int:
    if value is None or not _ID.fullmatch(value) or int(value) > MAX_ID:
        raise FormError(f"{name} is not an id", field=name)
    return int(value)


def parse_claim_token(value: str) -> str:
    found = _CLAIM.fullmatch(value)
    if found is None or int(found.group(1)) > MAX_ID:
        raise FormError("not a claim id", field="claim")
    return f"C-{found.group(1)}"


def parse_source_token(value: str) -> str:
    return field({"source": value}, "source", max_len=MAX_SOURCE).strip() or _missing("source")


def _missing(name: str) -> str:
    raise FormError(f"the field {name!r} is empty", field=name)


def parse_incident_code(form: dict[str, str]) -> str:
    code = field(form, "incident", max_len=MAX_CODE).strip()
    if not _INCIDENT.fullmatch(code):
        raise FormError("not an incident code", field="incident")
    return code


#: Reports a verdict may cite from the form (more is a job for the CLI).
MAX_EVIDENCE = 20
_SEPARATORS = re.compile(r"[\s,،#]+")


@dataclass(frozen=True, kw_only=True)
class VerdictForm:
    rating: VerdictRating
    summary_ar: str
    summary_en: str
    evidence: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ReviewForm:
    verdict: str
    approve: bool
    comment: str


def parse_verdict(form: dict[str, str]) -> VerdictForm:
    rating = field(form, "rating", max_len=16)
    if rating not in {str(r) for r in VerdictRating}:
        raise FormError("rating is not one of its choices", field="rating")
    summaries = [
        field(form, name, max_len=MAX_VERDICT_SUMMARY, single=False).strip()
        for name in ("summary_ar", "summary_en")
    ]
    if not all(summaries):
        raise FormError("a verdict needs both summaries", field="summary_ar")
    cited = field(form, "evidence", max_len=200).strip() if "evidence" in form else ""
    parts = [p for p in _SEPARATORS.split(cited) if p]
    if len(parts) > MAX_EVIDENCE:
        raise FormError("too many reports cited", field="evidence")
    evidence = tuple(parse_id(p, "evidence") for p in parts)
    return VerdictForm(
        rating=VerdictRating(rating),
        summary_ar=summaries[0],
        summary_en=summaries[1],
        evidence=evidence,
    )


_VERDICT = re.compile(r"[Vv]-([1-9][0-9]{0,9})")
#: A reviewer's comment: a few lines.
MAX_COMMENT = 2000


def parse_review(form: dict[str, str]) -> ReviewForm:
    found = _VERDICT.fullmatch(field(form, "verdict", max_len=16))
    if found is None:
        raise FormError("not a verdict id", field="verdict")
    decision = field(form, "decision", max_len=16)
    if decision not in ("approve", "changes"):
        raise FormError("decision is not one of its choices", field="decision")
    comment = ""
    if "comment" in form:
        comment = field(form, "comment", max_len=MAX_COMMENT, single=False).strip()
    return ReviewForm(verdict=f"V-{found.group(1)}", approve=decision == "approve", comment=comment)


def parse_roles(form: dict[str, str]) -> frozenset[Role]:
    """The roles ticked (``role_<name>``); a tick for a role that does not exist is refused."""
    roles = set()
    for key, value in form.items():
        if not key.startswith("role_"):
            continue
        name = key.removeprefix("role_")
        if name not in {str(r) for r in Role} or value != "on":
            raise FormError("not a role", field=key)
        roles.add(Role(name))
    return frozenset(roles)


def parse_version(form: dict[str, str]) -> str:
    version = field(form, "version", max_len=16)
    if not _VERSION.fullmatch(version):
        raise FormError("not a version", field="version")
    return version


def parse_new_user(form: dict[str, str]) -> tuple[str, frozenset[Role]]:
    name = " ".join(field(form, "name", max_len=MAX_NAME).split())
    if not name:
        raise FormError("a user needs a name", field="name")
    roles = parse_roles(form)
    if not roles:
        raise FormError("a user needs a role", field="roles")
    return name, roles


@dataclass(frozen=True, kw_only=True)
class AssignForm:
    kind: AssignmentKind
    object_id: int
    #: None: clear the assignment
    to: str | None


def parse_assign(form: dict[str, str]) -> AssignForm:
    kind = field(form, "kind", max_len=16)
    if kind not in {str(k) for k in AssignmentKind}:
        raise FormError("kind is not one of its choices", field="kind")
    to = field(form, "to", max_len=MAX_NAME).strip()
    return AssignForm(
        kind=AssignmentKind(kind), object_id=parse_id(form.get("id"), "id"), to=to or None
    )


def parse_reply(form: dict[str, str]) -> str:
    text = field(form, "text", max_len=MAX_REPLY, single=False).strip()
    if not text:
        raise FormError("a reply needs words", field="text")
    return text
