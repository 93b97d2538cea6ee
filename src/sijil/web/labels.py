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
    # incident work (the incident editor, assessments, review)
    "incident.create": N_("created an incident"),
    "incident.edit": N_("edited an incident"),
    "incident.attribute": N_("attributed an incident"),
    "evidence.link": N_("linked evidence"),
    "assessment.propose": N_("proposed an assessment"),
    "assessment.review": N_("reviewed an assessment"),
    # incident types
    "airstrike": N_("airstrike"),
    "shelling": N_("shelling"),
    "explosion": N_("explosion"),
    "ground_fighting": N_("ground fighting"),
    "execution": N_("execution"),
    "killing": N_("killing"),
    "arrest": N_("arrest"),
    "abduction": N_("abduction"),
    "torture": N_("torture"),
    "closure": N_("closure"),
    "displacement": N_("displacement"),
    "siege": N_("siege"),
    "other": N_("other"),
    # evidence roles and confidence
    "primary": N_("primary"),
    "corroborating": N_("corroborating"),
    "contradicting": N_("contradicting"),
    "context": N_("context"),
    "maybe": N_("maybe"),
    "likely": N_("likely"),
    "certain": N_("certain"),
    # attribution stances
    "known": N_("known"),
    "suspected": N_("suspected"),
    "claiming": N_("claiming"),
    "denying": N_("denying"),
    # civilian harm, casualty outcomes, statuses and groups
    "yes": N_("yes"),
    "no": N_("no"),
    "unknown": N_("unknown"),
    "killed": N_("killed"),
    "injured": N_("injured"),
    "missing": N_("missing"),
    "civilian": N_("civilian"),
    "combatant": N_("combatant"),
    "all": N_("all"),
    "child": N_("children"),
    "woman": N_("women"),
    "man": N_("men"),
    # assessment and review states
    "proposed": N_("awaiting review"),
    "approved": N_("approved"),
    "changes_requested": N_("sent back"),
    "current": N_("current"),
    # gazetteer kinds ("place" is above)
    "governorate": N_("governorate"),
    "district": N_("district"),
    "subdistrict": N_("subdistrict"),
    # claims board, sources, users (sijil.web.views_claims, views_sources, views_admin)
    "accurate": N_("accurate"),
    "misleading": N_("misleading"),
    "false": N_("false"),
    "unproven": N_("unproven"),
    "correspondent": N_("correspondent"),
    "outlet": N_("outlet"),
    "official": N_("official"),
    "monitor": N_("monitor"),
    "admin": N_("admin"),
    "editor": N_("editor"),
    "analyst": N_("analyst"),
    "reviewer": N_("reviewer"),
    "viewer": N_("viewer"),
    "possibly coerced": N_("possibly coerced"),
    "sent under duress": N_("sent under duress"),
    "user.added": N_("added a user"),
    "user.roles": N_("changed a user's roles"),
    "user.removed": N_("removed a user"),
    "reply.sent": N_("replied to a correspondent"),
    "key.added": N_("added a security key"),
    "key.removed": N_("removed a security key"),
}


def label(code: str | None) -> str:
    return LABELS.get(code or "", code or "")
