"""The console's websockets (wallboard, desk screen pops): one origin check, one send loop.

Both sockets push and never expect anything but pings and the close; the loop here reads
beside the sending so a closed browser tab is noticed while nothing is being sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from dialer.logs import get_logger
from dialer.web.errors import Forbidden
from dialer.web.keys import AUTH, SETTINGS
from dialer.web.security import SESSION_COOKIE

log = get_logger(__name__)

# Pings keep idle sockets alive through proxies and find dead peers; a screen waits minutes between messages.
HEARTBEAT_S = 30.0


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on websocket handshakes; refusing foreign ones stops cross-site hijacking."""
    origin = request.headers.get("Origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    """The handshake, after the same-origin check (the session and role were checked by the middleware)."""
    if not same_origin(request):
        raise Forbidden("cross_origin", "websocket from another origin")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    return ws


async def stream(
    request: web.Request, ws: web.WebSocketResponse, next_message: Callable[[], Awaitable[str]], what: str
) -> None:
    """Send every text ``next_message`` produces until the viewer goes away or their session ends, then close.

    ``send_str`` waits for the transport to drain, so a slow viewer slows only its own loop;
    ``what`` names the socket in the log. The session the handshake was made with is checked every
    ``[web] socket_session_check_s``: a logout, an expiry or a disabled user closes the socket.
    """
    reader = asyncio.create_task(_read_until_closed(ws))
    watcher = asyncio.create_task(_until_session_ends(request))
    code = WSCloseCode.OK
    try:
        while True:
            getter = asyncio.ensure_future(next_message())
            done, _pending = await asyncio.wait({getter, reader, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done or watcher in done:
                getter.cancel()
                if watcher in done:
                    code = WSCloseCode.POLICY_VIOLATION
                    log.info("web.socket_session_ended", socket=what)
                break
            await ws.send_str(getter.result())
    except ConnectionResetError:
        log.info("web.socket_viewer_gone", socket=what)
    finally:
        reader.cancel()
        watcher.cancel()
    await ws.close(code=code, message=b"session ended" if code is WSCloseCode.POLICY_VIOLATION else b"")


async def _until_session_ends(request: web.Request) -> None:
    """Return once the session behind the request's cookie may no longer be used."""
    token = request.cookies.get(SESSION_COOKIE, "")
    auth, every_s = request.app[AUTH], request.app[SETTINGS].web.socket_session_check_s
    while await auth.still_valid(token):  # noqa: ASYNC110 - a logout in another process sends no event
        await asyncio.sleep(every_s)


async def _read_until_closed(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return
