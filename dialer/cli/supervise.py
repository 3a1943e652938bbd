"""``dialer supervise``: the listen-in audit log (who listened to whom, when, how long; docs/supervisor.md).

Listen-ins themselves are started from the web console (they need a supervisor at a phone and a
live call); the CLI is where the audit is read, e.g. for a monthly review or a complaint.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from zoneinfo import ZoneInfo

from dialer.app import open_store
from dialer.cli.dealers import add_dealer_options, agent_scope, dealer_cell, dealer_codes, dealer_header
from dialer.cli.output import print_json, print_table
from dialer.i18n import translate
from dialer.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer supervise`` and its actions to the CLI."""
    p = sub.add_parser("supervise", help="监听审计记录 (listen-in audit log)")
    cmds = p.add_subparsers(dest="supervise_command", metavar="ACTION", required=True)
    log = cmds.add_parser("log", help="listen-ins of the last days, newest first")
    log.add_argument("--days", type=float, default=30.0, help="how far back (default 30)")
    log.add_argument("--agent", help="only listen-ins on this agent (with --group: CODE/AGENT)")
    log.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    log.add_argument("--json", action="store_true", help="print JSON objects")
    add_dealer_options(log)
    log.set_defaults(handler=run_log)


async def run_log(cfg: Settings, args: argparse.Namespace) -> int:
    """Print the audit rows; a running listen-in shows no end and no duration yet."""
    async with open_store(cfg, args.clock) as app:
        since = app.clock.now() - timedelta(days=args.days)
        dealers, agent = await agent_scope(app, args)
        rows = await app.listen_ins.recent(since, agent=agent, limit=args.limit, dealers=dealers)
        codes = await dealer_codes(app)
        if args.json:
            print_json([{**r.to_json_dict(), "dealer": codes.get(r.dealer_id)} for r in rows])
            return 0
        dealer = [dealer_header(app)] if dealers.mixed else []
        cells = [[dealer_cell(app, codes, r.dealer_id)] if dealers.mixed else [] for r in rows]
    lang, tz = cfg.ui.language, ZoneInfo(cfg.dealer.timezone)
    keys = ("supervise.col.id", "supervise.col.supervisor", "supervise.col.agent", "supervise.col.modes",
            "supervise.col.started", "supervise.col.seconds")  # fmt: skip
    print_table(
        [*(translate(k, lang) for k in keys), *dealer],
        [(r.id, r.supervisor, r.agent, "→".join(r.modes), r.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
          None if r.seconds is None else f"{r.seconds:.0f}", *cell) for r, cell in zip(rows, cells, strict=True)],
    )  # fmt: skip
    return 0
