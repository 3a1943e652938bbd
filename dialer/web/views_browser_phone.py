"""The desk's browser phone (WebRTC): the agent's own SIP account, registered from the page.

An agent whose endpoint is listed in ``browser_phones`` (``[site]``, or ``[lab]`` for the lab) has no
desk phone: the desk registers their account over Asterisk's WebSocket with SIP.js and rings, answers
and hangs up in the page. The dialer routes to the same endpoint as for a desk phone (``PJSIP/<agent>``),
so campaign, manual and inbound calls reach the browser unchanged.

The credentials go to the logged-in agent only, for their own endpoint, over their session, on an
answer that is never cached: the account's digest secret (HA1), which opens this one SIP account and
nothing else (the password itself is never stored). The library is served by the console itself from
the folder ``scripts/bootstrap.sh`` fills with ``npm ci`` (``dialer/web/vendor``), never from a CDN:
the file set is read from that folder, so no path from a URL reaches the disk.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from dialer.domain.access.policy import Action
from dialer.domain.pbx.phones import REALM
from dialer.domain.pbx.site import BrowserPhones, browser_phones
from dialer.lab.layout import LAB_HOST
from dialer.web.dealers import phone_of
from dialer.web.errors import NotFound, WebError
from dialer.web.html import t
from dialer.web.keys import DIALER, SETTINGS
from dialer.web.routing import Open, RouteTable

routes = RouteTable()

# npm ci installs the pinned SIP.js (package-lock.json: version and integrity) below this folder.
VENDOR_DIR = Path(__file__).resolve().parent / "vendor"
SIPJS_DIR = VENDOR_DIR / "node_modules" / "sip.js" / "lib"
# SIP.js ships ES modules that import each other by relative path: lower-case names, folders, ".js".
_MODULE_PATH = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)*(\.[a-z0-9]+)*\.js$")
_NO_STORE = {"Cache-Control": "no-store"}
# The texts browser-phone.js shows, by the name it uses (web.browser_phone.<name>).
_TEXTS = (
    "state_off", "state_starting", "state_registered", "state_ringing", "state_in_call", "state_disconnected",
    "state_failed", "insecure", "mic_denied", "mic_missing", "mic_busy", "mic_failed", "library_missing",
    "no_account", "register_failed", "leave_in_call",
)  # fmt: skip


class LibraryMissing(WebError):
    """The browser phone's library is not installed: the service cannot give the page its phone."""

    status = 503


def browser_phones_of(request: web.Request) -> BrowserPhones:
    """The browser phones this console serves (the site's once ``[site]`` is set up, else the lab's)."""
    return browser_phones(request.app[SETTINGS], LAB_HOST)


def panel(request: web.Request) -> dict[str, object] | None:
    """What templates/desk/_browser_phone.html needs; None unless this login's phone is a browser."""
    agent = phone_of(request)
    if not agent or agent not in browser_phones_of(request).endpoints:
        return None
    return {"text": {name: t(request, "web.browser_phone." + name) for name in _TEXTS}}


@routes.route("GET", "/api/desk/browser-phone", Action.DESK_VIEW,
              "My browser phone's SIP account: WebSocket, SIP address and digest secret (never cached)")  # fmt: skip
async def api_browser_phone(request: web.Request) -> web.StreamResponse:
    """Only the logged-in agent's own account, and only when their phone is a browser (else 404)."""
    agent = phone_of(request)
    phones = browser_phones_of(request)
    if not agent or agent not in phones.endpoints or phones.server is None:
        raise NotFound("no_browser_phone", "this login's phone is not a browser phone (browser_phones)")
    account = await request.app[DIALER].phones.account(agent)
    if account is None:
        raise NotFound("no_phone_account", f"endpoint {agent!r} has no phone account (dialer phones add {agent})")
    server = phones.server
    host = f"[{server.host}]" if ":" in server.host else server.host
    body = {"endpoint": agent, "username": account.username, "uri": f"sip:{account.username}@{host}",
            "websocket": server.url, "realm": REALM, "ha1": account.ha1}  # fmt: skip
    return web.json_response(body, headers=_NO_STORE)


@routes.route("GET", "/vendor/sip.js/{path:.+}", Open.PUBLIC,
              "The browser phone's SIP library (SIP.js, installed by scripts/bootstrap.sh)", response="text/javascript")  # fmt: skip
async def sipjs_module(request: web.Request) -> web.StreamResponse:
    """One module of SIP.js; 503 with what to do when it is not installed, 404 for a file it does not have."""
    files = _library_files()
    if not files:
        # In the reader's language, and without the server's folders (the route is public).
        raise LibraryMissing("browser_phone_library_missing", t(request, "web.browser_phone.library_missing"))
    path = files.get(request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "text/javascript; charset=utf-8"})


_files: dict[str, Path] = {}


def _library_files() -> dict[str, Path]:
    """Every module of the installed library by its path below ``lib/``, read once it is there."""
    if not _files and SIPJS_DIR.is_dir():
        found = {p.relative_to(SIPJS_DIR).as_posix(): p for p in SIPJS_DIR.rglob("*.js") if p.is_file()}
        _files.update({name: p for name, p in found.items() if _MODULE_PATH.match(name)})
    return _files
