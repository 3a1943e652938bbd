"""Everything stored on the aiohttp application or request, under typed keys (aiohttp's AppKey)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dialer.actors import CONSOLE_ACTOR_PREFIX
from dialer.app import App
from dialer.auth.service import AuthService
from dialer.campaigns.registry import RunnerRegistry
from dialer.domain.access.dealers import Dealer, DealerScope
from dialer.domain.auth.records import SessionRecord
from dialer.domain.doss.mapping import DossMapping
from dialer.settings import Settings
from dialer.store.recordings import RecordingStore
from dialer.web.metrics import Metrics
from dialer.web.routing import RouteSpec
from dialer.web.wallboard import Broadcaster

SETTINGS = web.AppKey("settings", Settings)
DIALER = web.AppKey("dialer", App)
AUTH = web.AppKey("auth", AuthService)
MAPPING = web.AppKey("doss_mapping", DossMapping)
RECORDINGS = web.AppKey("recording_store", RecordingStore)
BROADCASTER = web.AppKey("broadcaster", Broadcaster)
METRICS = web.AppKey("metrics", Metrics)
ROUTES = web.AppKey("routes", Mapping[Any, RouteSpec])
RUNNERS = web.AppKey("campaign_runners", RunnerRegistry)  # the campaigns running in this process (preview desk)

# Per request, set by the security middleware before the handler runs.
SESSION = web.RequestKey[SessionRecord | None]("session")  # absent or None: not logged in
LANG = web.RequestKey("lang", str)  # the language the response is in
CSRF = web.RequestKey("csrf", str)  # the token forms on this page must carry
DEALERS = web.RequestKey("dealers", DealerScope)  # whose rows this request sees (dialer/web/dealers.py)
DEALER_CHOICES = web.RequestKey("dealer_choices", tuple[Dealer, ...])  # what a group-wide person may choose from


def session_of(request: web.Request) -> SessionRecord:
    """The logged-in session; the middleware guarantees it on every non-public route."""
    session: SessionRecord | None = request.get(SESSION)
    if session is None:
        raise web.HTTPUnauthorized()
    return session


def console_actor(request: web.Request) -> str:
    """Who a change made through the console is recorded as: ``web:<login>`` (dialer.actors)."""
    return CONSOLE_ACTOR_PREFIX + session_of(request).user.name
