"""The ``dialer`` command.

Each sub-command lives in its own module under ``dialer.cli`` and exposes
``register(subparsers)``; this module only assembles them, loads the config and
turns known errors into one clear line and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import sys
from collections.abc import Sequence

from dialer.clock import Clock, SystemClock
from dialer.config import load
from dialer.logs import configure
from dialer.settings import ConfigError

# Sub-command modules, in the order ``dialer --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "call",
    "attempts",
    "doctor",
    "config",
    "simulate",
    "leads",
    "doss",
    "kpi",
    "report",
    "lab",
    "pbx",
    "phones",
    "campaign",
    "recordings",
    "qa",
    "sms",
    "users",
    "audit",
    "backup",
    "store",
    "privacy",
    "inbound",
    "supervise",
    "web",
)


class CliError(Exception):
    """An error to show the user as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialer", description="DCC Dialer: outbound and inbound calling for a dealer call center"
    )
    parser.add_argument("--config", help="TOML config file (default: $DIALER_CONFIG or config/dialer.toml)")
    parser.add_argument("--log-level", help="debug, info, warning or error (overrides the config)")
    parser.add_argument(
        "--lang", choices=("zh-CN", "en"), help="language of what the command prints (default from [ui])"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"dialer.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run one command; ``clock`` is the time every handler reads (``args.clock``), the machine's
    unless a test or the demo hands in its own, as the services take theirs."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.clock = clock or SystemClock()
    try:
        cfg = load(args.config)
        if args.lang:
            cfg = dataclasses.replace(cfg, ui=dataclasses.replace(cfg.ui, language=args.lang))
        configure(level=args.log_level or cfg.log.level, json=cfg.log.json)
        result = args.handler(cfg, args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except CliError as exc:
        print(f"dialer: {exc}", file=sys.stderr)
        return 2
    # The config file itself, or a file the store's services load at start (DOSS mapping, QA form, templates).
    except ConfigError as exc:
        print(f"dialer: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
