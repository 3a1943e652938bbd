"""``dialer web``: serve the console (docs/web.md)."""

from __future__ import annotations

import argparse

from aiohttp import web

from dialer.settings import Settings
from dialer.web.app import create_app


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dialer web`` to the CLI."""
    p = sub.add_parser("web", help="启动网页控制台 (serve the web console)")
    p.add_argument("--host", help="address to listen on (default from [web], 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default from [web], 8080)")
    p.add_argument("--pbx", action="store_true", help="also open the AMI link (live line state on the wallboard)")
    p.set_defaults(handler=run)


def run(cfg: Settings, args: argparse.Namespace) -> int:
    """Serve until interrupted; aiohttp runs the cleanup contexts on the way out."""
    app = create_app(cfg, with_pbx=args.pbx)
    web.run_app(app, host=args.host or cfg.web.host, port=args.port or cfg.web.port, print=None, access_log=None)
    return 0
