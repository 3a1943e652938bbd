"""Whose rows a request sees: the session's dealer, or for a group-wide person every dealer or the one
chosen with ``?dealer=code`` (docs/web.md "Dealers"). Decided once per request by the security
middleware; the handlers hand it to the services (:func:`dealers_of`)."""

from __future__ import annotations

from aiohttp import web

from dialer.domain.access.dealers import AmbiguousName, Dealer, DealerScope, scope_of_name, scope_of_user
from dialer.domain.audit.model import concerned_dealer
from dialer.domain.auth.records import UserRecord
from dialer.web.errors import BadRequest
from dialer.web.keys import DEALER_CHOICES, DEALERS, DIALER, session_of

QUERY = "dealer"  # the query parameter that names the chosen dealer
AGENT_QUERY = "agent"  # the query parameter of an agent filter (agent_filter)


async def decide(request: web.Request, user: UserRecord) -> None:
    """Set the request's scope (and for a group-wide person the dealers to choose from)."""
    if user.dealer_id is not None:
        request[DEALERS] = scope_of_user(user.dealer_id, None)
        request[DEALER_CHOICES] = ()
        return
    choices = tuple(await request.app[DIALER].dealers.all())
    code = request.query.get(QUERY, "")
    chosen = next((d for d in choices if d.code == code), None)
    if code and chosen is None:
        raise BadRequest({QUERY: f"{code[:40]!r} is no dealer of the group"})
    request[DEALERS] = scope_of_user(None, None if chosen is None else chosen.id)
    request[DEALER_CHOICES] = choices


def dealers_of(request: web.Request) -> DealerScope:
    """The scope :func:`decide` set for this request."""
    return request[DEALERS]


async def agent_filter(request: web.Request) -> tuple[DealerScope, str | None]:
    """The scope and plain agent the query's ``?agent=`` filter reads: ``pudong/8001`` narrows to that
    dealer; a plain agent from a group-wide person who sees several dealers is a 400 naming ``agent``
    (every dealer has its 8001; docs/web.md "Dealers")."""
    name = request.query.get(AGENT_QUERY)
    if not name:
        return dealers_of(request), None
    try:
        return scope_of_name(name, dealers_of(request), await request.app[DIALER].dealers.all())
    except AmbiguousName as exc:
        raise BadRequest({AGENT_QUERY: str(exc)}) from None


def audit_dealer(request: web.Request, target_dealer: int | None) -> int | None:
    """The dealer an audit row of this request concerns: the person's, or for a group-wide person the
    dealer of what they acted on (``target_dealer``; None: the group's) (docs/audit.md "Dealers")."""
    return concerned_dealer(session_of(request).user.dealer_id, target_dealer)


async def dealer_names(request: web.Request) -> dict[int, str]:
    """Dealer id to code, for the dealer column of lists that mix dealers."""
    return {d.id: d.code for d in await request.app[DIALER].dealers.all()}


def chosen_dealer(request: web.Request) -> Dealer | None:
    """The dealer a group-wide person chose, or None."""
    scope = request.get(DEALERS)
    if scope is None or not scope.group or scope.dealer_id is None:
        return None
    return next(d for d in request[DEALER_CHOICES] if d.id == scope.dealer_id)


def own_phone(request: web.Request) -> str:
    """The logged-in person's phone (:func:`phone_of`) for a route that needs one: a login without one
    (a supervisor, another dealer's person) is told so by name."""
    agent = phone_of(request)
    if not agent:
        raise BadRequest({"agent": "this login has no phone (agent endpoint) on this dealer's PBX"}, code="no_phone")
    return agent


def phone_of(request: web.Request) -> str | None:
    """The logged-in person's phone on this node's PBX: their agent identity (the endpoint) when they are
    the node's dealer's person or group-wide; None for another dealer's person, whose phone is on their
    own dealer's PBX (this node's endpoint of the same name is a colleague's here: identities are per
    dealer). Every route that rings, pops, pauses or hands out the phone's account asks this."""
    user = session_of(request).user
    if user.dealer_id is not None and user.dealer_id != request.app[DIALER].dealer.id:
        return None
    return user.agent
