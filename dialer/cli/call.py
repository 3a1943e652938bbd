"""``dialer call NUMBER...``: place real calls through the configured PBX and report each outcome."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialer.app import open_app, open_store
from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.calls.attempts import Attempt
from dialer.i18n import translate
from dialer.phone import InvalidPhone, Phone, normalize
from dialer.settings import Settings
from dialer.telephony.lines import LinesBusy


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("call", help="place calls, connect the answered customer to an agent, record it")
    p.add_argument("numbers", nargs="+", metavar="NUMBER", help="customer number(s); several are dialled at once")
    p.add_argument("--agent", default="agent1", help="agent endpoint that takes the answered call (default agent1)")
    p.add_argument(
        "--no-wait", action="store_true", help="refuse a call when every outbound line is busy instead of waiting"
    )
    p.add_argument("--json", action="store_true", help="print the attempts as JSON")
    p.set_defaults(handler=run)


def parse_numbers(raw: list[str], region: str) -> list[Phone]:
    """Every number normalized, or one error naming each bad one (nothing is dialled then)."""
    phones, problems = [], []
    for position, text in enumerate(raw, start=1):
        try:
            phones.append(normalize(text, region))
        except InvalidPhone as exc:
            problems.append(f"NUMBER #{position} {text!r}: {exc.reason}")
    if problems:
        raise CliError("; ".join(problems))
    return phones


async def run(cfg: Settings, args: argparse.Namespace) -> int:
    phones = parse_numbers(args.numbers, cfg.dealer.region)
    lang = cfg.ui.language
    # The one suppression list binds a person dialling by hand too: nothing is dialled then.
    async with open_store(cfg, args.clock) as store:
        listed = [(p, e) for p in phones if (e := await store.privacy.active(p.e164)) is not None]
    if listed:
        raise CliError(
            "; ".join(
                translate("call.suppressed", lang, number=p.e164, reason=e.reason,
                          source=translate(f"privacy.source.{e.source.value}", lang))
                for p, e in listed
            )
        )  # fmt: skip
    async with open_app(cfg, args.clock) as app:
        assert app.calls is not None
        if len(phones) > app.calls.lines.capacity and not args.no_wait:
            print(translate("call.waiting_line", lang, capacity=app.calls.lines.capacity))
        results = await asyncio.gather(
            *(app.calls.dial(p, agent=args.agent, wait_for_line=not args.no_wait) for p in phones),
            return_exceptions=True,
        )
        attempts = [r for r in results if isinstance(r, Attempt)]
        files = await app.recordings.current_files(attempts)
    refused = [p for p, r in zip(phones, results, strict=True) if isinstance(r, LinesBusy)]
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, LinesBusy):
            raise r
    if args.json:
        print_json(attempts_json(attempts, files))
    else:
        print_attempts(attempts, files, lang)
    for phone in refused:
        print(f"{phone.e164}: {translate('call.lines_busy', lang, capacity=cfg.pbx.outbound_lines)}")
    return 0 if not refused else 3


def attempts_json(attempts: list[Attempt], files: Mapping[str, Path | None]) -> list[dict[str, Any]]:
    """The attempts as JSON, each with the file its recording is in now (``files``, from the registry)."""
    return [{**a.to_json_dict(), "recording": _shown(files.get(a.call_id))} for a in attempts]


def _shown(path: Path | None) -> str | None:
    return None if path is None else str(path)


def print_attempts(attempts: list[Attempt], files: Mapping[str, Path | None], lang: str) -> None:
    """The table ``dialer call``, ``dialer attempts`` and the demo print; ``files`` is
    :meth:`~dialer.recording.registry.RecordingRegistry.current_files`: the file the recording is in now."""
    headers = [
        translate(k, lang)
        for k in ("col.id", "col.number", "col.outcome", "col.cause", "col.agent", "col.duration", "col.recording")
    ]
    rows = []
    for a in attempts:
        outcome = f"{a.outcome.value} {translate('outcome.' + a.outcome.value, lang)}" if a.outcome else None
        talk = round((a.ended_at - a.connected_at).total_seconds()) if a.connected_at and a.ended_at else None
        rows.append([a.id, a.number, outcome, a.hangup_cause, a.agent, talk, _shown(files.get(a.call_id))])
    print_table(headers, rows)
