"""Who may open which page: one table, deny by default.

Every route of the app has a row naming the roles that may use it, or one of
three markers: ``PUBLIC`` (sign-in and enrolment pages, static files),
``SECOND_FACTOR`` (the authenticator step, for a session whose password was
right) and ``SIGNED_IN`` (any role). A route without a row is refused for
everyone; tests/test_web_access.py fails when a route has no row and checks
every route against every role.
"""

from __future__ import annotations

from enum import Enum

from sijil.store.models_desk import Role

__all__ = ["ROUTE_ACCESS", "Gate", "allowed"]


class Gate(Enum):
    PUBLIC = "public"
    SECOND_FACTOR = "second_factor"
    SIGNED_IN = "signed_in"


_READERS = frozenset({Role.EDITOR, Role.ANALYST, Role.REVIEWER})
_EVERYONE = frozenset(Role)
# incidents' own fields (create, edit, translate); evidence, attribution and
# proposed assessments are the analysts' work too; reviews are the reviewers'
_EDITORS = frozenset({Role.EDITOR})
_DESK_WORK = frozenset({Role.EDITOR, Role.ANALYST})
_REVIEWERS = frozenset({Role.REVIEWER})
_ADMIN = frozenset({Role.ADMIN})

#: route name -> who may use it
ROUTE_ACCESS: dict[str, Gate | frozenset[Role]] = {
    "static": Gate.PUBLIC,
    "login": Gate.PUBLIC,
    "enrol": Gate.PUBLIC,
    "enrol_finish": Gate.PUBLIC,
    "language": Gate.PUBLIC,
    "second_factor": Gate.SECOND_FACTOR,
    "logout": Gate.SIGNED_IN,
    "home": Gate.SIGNED_IN,
    "inbox": _READERS,
    "report": _READERS,
    "incidents": _EVERYONE,
    "search": _EVERYONE,
    "activity": frozenset({Role.ADMIN}),
    "incident": _EVERYONE,
    "incident_history": _EVERYONE,
    "assessment": _EVERYONE,
    "incident_new": _EDITORS,
    "incident_edit": _EDITORS,
    "incident_translate": _EDITORS,
    "incident_evidence": _DESK_WORK,
    "incident_attribute": _DESK_WORK,
    "assessment_new": _DESK_WORK,
    "place_picker": _DESK_WORK,
    "assessment_review": _REVIEWERS,
    "review_queue": _REVIEWERS,
    "translations": _READERS,
    # the claims board: everyone reads; linking and rating are desk work; reviews
    "claims": _EVERYONE,
    "claim": _EVERYONE,
    "claim_link": _DESK_WORK,
    "claim_verdict": _DESK_WORK,
    "claim_review": _REVIEWERS,
    # sources name the correspondents by codename: for the people who read reports
    "sources": _READERS,
    "source": _READERS,
    # users: admin only
    "users": _ADMIN,
    "user_roles": _ADMIN,
    "user_remove": _ADMIN,
    "user_enrol": _ADMIN,
    # assignment, replies, previews: the people who work on reports
    "mine": _READERS,
    "assign": _READERS,
    "report_reply": _DESK_WORK,
    "thumbnail": _READERS,
    # security keys: each user their own (sijil.desk.security_keys checks the owner)
    "keys": Gate.SIGNED_IN,
    "key_options": Gate.SIGNED_IN,
    "key_add": Gate.SIGNED_IN,
    "key_remove": Gate.SIGNED_IN,
    # a key instead of the TOTP code, after the password
    "key_login_options": Gate.SECOND_FACTOR,
    "key_login": Gate.SECOND_FACTOR,
}


def allowed(route: str | None, *, stage: str | None, roles: frozenset[Role]) -> bool:
    """Whether a request may reach ``route`` with a session at ``stage`` holding ``roles``."""
    rule = ROUTE_ACCESS.get(route or "")
    if rule is None:
        return False
    if rule is Gate.PUBLIC:
        return True
    if rule is Gate.SECOND_FACTOR:
        return stage == "totp"
    if stage != "full":
        return False
    if rule is Gate.SIGNED_IN:
        return bool(roles)
    return isinstance(rule, frozenset) and bool(rule & roles)
