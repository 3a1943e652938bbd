"""The console's websockets (wallboard, desk screen pops): one origin check, one send loop.

Both sockets push and never expect anything but pings and the close; the loop here reads
beside the sending so a closed browser tab is noticed while nothing is being sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from dialer.logs import get_logger
from dialer.web.errors import Forbidden

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


async def stream(ws: web.WebSocketResponse, next_message: Callable[[], Awaitable[str]], what: str) -> None:
    """Send every text ``next_message`` produces until the viewer goes away, then close.

    ``send_str`` waits for the transport to drain, so a slow viewer slows only its own loop;
    ``what`` names the socket in the log.
    """
    reader = asyncio.create_task(_read_until_closed(ws))
    try:
        while True:
            getter = asyncio.ensure_future(next_message())
            done, _pending = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            await ws.send_str(getter.result())
    except ConnectionResetError:
        log.info("web.socket_viewer_gone", socket=what)
    finally:
        reader.cancel()
    await ws.close()


async def _read_until_closed(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            return
