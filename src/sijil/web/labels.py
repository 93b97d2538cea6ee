"""Words the desk stores as codes (states, gradings, kinds, actions), as the UI says them.

Each is marked for translation here, so the catalog test sees it; a template
shows ``_(label(code))``. A code without a label is shown as it is.
"""

from __future__ import annotations

from sijil.web.i18n import N_

__all__ = ["label"]

LABELS: dict[str, str] = {
    # incident states
    "draft": N_("draft"),
    "in_review": N_("in review"),
    "published": N_("published"),
    "withdrawn": N_("withdrawn"),
    # gradings (Airwars' scale)
    "confirmed": N_("confirmed"),
    "fair": N_("fair"),
    "weak": N_("weak"),
    "contested": N_("contested"),
    "discounted": N_("discounted"),
    # search hit kinds
    "report": N_("report"),
    "incident": N_("incident"),
    "claim": N_("claim"),
    "source": N_("source"),
    "place": N_("place"),
    "actor": N_("actor"),
    # channels
    "usb": N_("USB stick"),
    "text": N_("pasted text"),
    "file": N_("file"),
    "relay": N_("relay"),
    # activity
    "login": N_("signed in"),
    "login.failed": N_("failed sign-in"),
    "logout": N_("signed out"),
    "enrol": N_("enrolled"),
    "enrol.failed": N_("failed enrolment"),
    "enrol.issued": N_("enrolment code issued"),
    "report.view": N_("read a report"),
    "search": N_("searched"),
    "language": N_("changed language"),
}


def label(code: str | None) -> str:
    return LABELS.get(code or "", code or "")
