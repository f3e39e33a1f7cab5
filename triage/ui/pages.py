"""What every desk page shares: who is signed in, the links their role may follow, the notice after a form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.response import Template

from triage.core.actors import Actor
from triage.domain.auth.policy import rule_for


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    key: str
    """The keyboard shortcut that follows it (``g`` then this key)."""


NAV = (
    NavLink("Queue", "/ui/queue", "q"),
    NavLink("Dashboard", "/ui/dashboard", "d"),
    NavLink("Audit", "/ui/audit", "a"),
)

NOTICES = {
    "approved": "Approved.",
    "rejected": "Rejected.",
    "edited": "Edit approved.",
    "edit_recorded": "Edit recorded; it now waits for a second approver (four-eyes).",
    "approved_all": "Approved everything you may decide on the case.",
    "nothing_to_approve": "Nothing on that case was left for you to approve.",
    "relabelled": "Re-labelled: the gate and the drafts were re-run for the new category.",
    "claimed": "Claimed: the item is yours until the claim expires.",
    "released": "Released: the item is back in the queue.",
    "assigned": "Assigned.",
    "signed_out": "You are signed out.",
    "case_done": "Nothing on that case waits for you any more.",
}
"""Notices a redirect may name (``?done=``): fixed texts, so nothing from the URL is ever shown."""


def may_open(actor: Actor | None, path: str, method: str = "GET") -> bool:
    """Whether ``actor``'s role may call the route: the same rule the guard applies."""
    rule = rule_for(method, path)
    return actor is not None and rule is not None and rule.allows(actor.role)


def nav_for(actor: Actor | None) -> list[NavLink]:
    return [link for link in NAV if may_open(actor, link.path)]


def page(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Template:
    """A full page: ``context`` plus the signed-in actor, their links and the notice named by ``?done=``."""
    actor = request.scope.get("user")
    me = actor if isinstance(actor, Actor) else None
    notice = NOTICES.get(request.query_params.get("done", ""))
    shared = {"me": me, "nav": nav_for(me), "current": request.url.path, "notice": notice}
    return Template(template_name=template, context={**shared, **context}, status_code=status_code)


def fragment(template: str, **context: Any) -> Template:
    """A piece of a page, for htmx to swap in."""
    return Template(template_name=template, context=context)
