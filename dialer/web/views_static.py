"""The console's stylesheet and scripts (``dialer/web/static``), public like the login page that uses them.

A declared route rather than ``add_static``: the access middleware refuses any route the table does
not declare, and serving only the files the folder held at start-up rules out path tricks.
"""

from __future__ import annotations

from aiohttp import web

from dialer.web.html import STATIC_DIR
from dialer.web.routing import Open, RouteTable

routes = RouteTable()

_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}
_TYPES = {".css": "text/css", ".js": "text/javascript"}


@routes.route("GET", "/static/{name}", Open.PUBLIC, "The console's stylesheet and scripts")
async def static_file(request: web.Request) -> web.StreamResponse:
    """One file of the static folder, by name."""
    path = _FILES.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": f"{_TYPES.get(path.suffix, 'text/plain')}; charset=utf-8"})
