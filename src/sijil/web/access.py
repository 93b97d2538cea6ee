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
