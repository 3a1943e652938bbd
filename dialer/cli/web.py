"""``dialer web``: the one service: PBX link, campaign runners and the console (docs/web.md).

By default it runs :func:`dialer.server.serve`, so campaigns started from the console or from
another terminal (``dialer campaign start ID``) dial in this process and preview offers reach the
desks. ``--no-pbx`` serves the console over the store only (reports, imports, recordings) on a
machine without the PBX; it runs no campaign.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from dialer.ami.errors import AmiError
from dialer.cli import CliError
from dialer.i18n import translate
from dialer.server import bind, serve
from dialer.settings import Settings
from dialer.store.process_lock import StoreInUse
from dialer.web.app import create_app


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer web`` to the CLI."""
    p = sub.add_parser(
        "web", help="启动网页控制台、PBX 连接与外呼活动 (serve the console, the PBX link and the campaigns)"
    )
    p.add_argument("--host", help="address to listen on (default from [web], 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default from [web], 8080; 0: any free port)")
    p.add_argument("--no-pbx", action="store_true",
                   help="console over the store only: no AMI link, no campaign runs (reports, imports)")  # fmt: skip
    p.add_argument("--no-sms", action="store_true",
                   help="do not send SMS here (another machine runs `dialer sms run` against an SMPP gateway)")  # fmt: skip
    p.set_defaults(handler=run)


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; everything is closed in order on the way out."""
    host = args.host or cfg.web.host
    port = cfg.web.port if args.port is None else args.port
    lang = cfg.ui.language
    try:
        if args.no_pbx:
            async with bind(create_app(cfg, clock=args.clock), host, port) as url:
                announce(url, lang, pbx=False)
                await until_interrupted()
        else:
            async with serve(cfg, clock=args.clock, host=host, port=port, sms_worker=not args.no_sms) as server:
                announce(server.url, lang, pbx=True)
                await until_interrupted(server.app.pbx_lost)
                if server.app.pbx_lost.is_set():
                    # Non-zero: a service manager starts the node again, which then waits for the PBX.
                    raise CliError(translate("server.pbx_lost", lang, pbx=cfg.pbx.name))
    except (StoreInUse, AmiError, OSError) as exc:
        raise CliError(str(exc)) from None
    return 0


def announce(url: str, lang: str, *, pbx: bool) -> None:
    """Where the console answers and what runs here, printed at once (flushed: often read by a script)."""
    print(translate("server.console_at", lang, url=url), flush=True)
    print(translate("server.runs_campaigns" if pbx else "server.store_only", lang), flush=True)


async def until_interrupted(lost: asyncio.Event | None = None) -> None:
    """Return on SIGINT (Ctrl-C) or SIGTERM (a service manager's stop), or once ``lost`` is set (the node
    lost its PBX to another node), so shutdown runs in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    waits = [asyncio.ensure_future(event.wait()) for event in (stop, lost) if event is not None]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
