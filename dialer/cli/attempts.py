"""``dialer attempts``: the durable record of call attempts, newest first.

The recording column is the file the recording is in now (the registry's answer: the FLAC once
compressed, nothing once deleted), not the WAV the PBX reported when the call ended."""

from __future__ import annotations

import argparse

from dialer.app import open_store
from dialer.cli.call import attempts_json, print_attempts
from dialer.cli.output import print_json
from dialer.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("attempts", help="list call attempts (newest first)")
    p.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON objects")
    p.set_defaults(handler=run)


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    async with open_store(cfg, args.clock) as app:
        attempts = await app.attempts.recent(limit=args.limit)
        files = await app.recordings.current_files(attempts)
    if args.json:
        print_json(attempts_json(attempts, files))
    else:
        print_attempts(attempts, files, cfg.ui.language)
    return 0
