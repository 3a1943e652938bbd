"""The console's aiohttp application: routes from the table, two middlewares, resources in cleanup_ctx.

The dialer :class:`~dialer.app.App` (store and services) is the resource: hand in one that is
already open (tests, or a process that also runs campaigns), or let the console open its own
store in a cleanup context. Everything the handlers use hangs off typed AppKeys; nothing is global.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from dialer.app import App, open_store
from dialer.campaigns.registry import RunnerRegistry
from dialer.clock import Clock
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.tasks import supervised
from dialer.web import (
    openapi,
    views_audit,
    views_auth,
    views_browser_phone,
    views_calls,
    views_campaigns,
    views_desk,
    views_dnc,
    views_leads,
    views_manage,
    views_owners,
    views_phones,
    views_preview,
    views_promotions,
    views_qa,
    views_recording_status,
    views_recordings,
    views_reports,
    views_screenpop,
    views_showroom,
    views_sms,
    views_static,
    views_supervise,
    views_wallboard,
)  # fmt: skip
from dialer.web.client_address import parse_networks, proxy_middleware
from dialer.web.html import setup_templates
from dialer.web.keys import AUTH, BROADCASTER, DIALER, MAPPING, METRICS, RECORDINGS, ROUTES, RUNNERS, SETTINGS
from dialer.web.metrics import Metrics
from dialer.web.routing import Open, RouteTable
from dialer.web.security import body_limit, hide_server_version, security_headers, security_middleware
from dialer.web.wallboard import Broadcaster, StoreSnapshotSource

log = get_logger(__name__)


def route_table() -> RouteTable:
    """Every route of the console, from each view module's table."""
    return RouteTable.combine(
        views_auth.routes, views_desk.routes, views_leads.routes, views_preview.routes, views_recordings.routes,
        views_reports.routes, views_wallboard.routes, views_screenpop.routes, views_supervise.routes, openapi.routes,
        views_manage.routes, views_owners.routes, views_showroom.routes, views_campaigns.routes, views_audit.routes, views_static.routes, views_phones.routes, views_calls.routes, views_dnc.routes, views_qa.routes, views_promotions.routes,
        views_sms.routes, views_recording_status.routes, views_browser_phone.routes,
    )  # fmt: skip


def create_app(
    settings: Settings,
    *,
    dialer: App | None = None,
    clock: Clock | None = None,
    runners: RunnerRegistry | None = None,
) -> web.Application:
    """Build the console. Without ``dialer`` it opens its own over the store alone (``dialer web
    --no-pbx``); the whole service hands in the App it opened with the PBX link (dialer/server.py).

    ``runners`` are the campaign runners of this process, for the preview desk; without it the
    console runs no campaign and offers nothing."""
    # The default body limit is the small one; the gate raises it for an allowed upload only.
    app = web.Application(
        middlewares=[proxy_middleware(parse_networks(settings.web.trusted_proxies)), security_middleware],
        client_max_size=body_limit(settings.web, Open.PUBLIC),
    )
    app.on_response_prepare.append(security_headers)
    hide_server_version()
    setup_templates(app)
    table = route_table()
    table.install(app)
    app[SETTINGS] = settings
    app[ROUTES] = table.by_handler()
    app[RUNNERS] = runners if runners is not None else RunnerRegistry()

    async def dialer_ctx(app: web.Application) -> AsyncIterator[None]:
        if dialer is not None:
            app[DIALER] = dialer
            yield
            return
        async with open_store(settings, clock) as opened:
            app[DIALER] = opened
            yield

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        base = app[DIALER]
        app[AUTH] = base.auth
        app[MAPPING] = base.doss.mapping
        app[RECORDINGS] = base.recording_store
        app[METRICS] = Metrics()
        broadcaster = Broadcaster(
            StoreSnapshotSource(base, app[RUNNERS]),
            settings.web.wallboard_interval_ms / 1000.0,
            settings.web.wallboard_viewer_queue,
        )
        app[BROADCASTER] = broadcaster
        purged = await app[AUTH].purge()
        task = asyncio.create_task(
            supervised("wallboard-broadcaster", broadcaster.run, base.health), name="wallboard-broadcaster"
        )
        log.info("web.started", sessions_purged=purged)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(dialer_ctx)
    app.cleanup_ctx.append(services_ctx)
    return app
