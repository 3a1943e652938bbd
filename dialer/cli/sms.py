"""``dialer sms``: send one message, start a repurchase wave, replies, visit reminders, status, the worker.

Tables are Chinese unless ``ui.language`` is ``en``; ``--json`` prints everything for scripts.
``dialer sms run`` is the long-running worker (sends the outbox, takes receipts and replies,
decides waves); ``send --wait`` runs it just long enough for one message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
from collections.abc import Awaitable, Callable
from datetime import date

from dialer.app import open_app, open_store, sms_sender
from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.sms.errors import MessageRefused, SmsError
from dialer.i18n import translate
from dialer.settings import Settings
from dialer.sms.service import SmsService, WaveSelection
from dialer.store.errors import StoreError
from dialer.tasks import TaskHealth


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(f"sms.{key}", cfg.ui.language, **params)


def _vars(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--var {pair!r}: expected name=value")
        values[name] = value
    return values


async def _worker_until(service: SmsService, cfg: Settings, done: asyncio.Future[None] | None, seconds: float) -> None:
    """Run the worker for ``seconds`` or until ``done`` resolves."""
    stop = asyncio.Event()
    # Alone on the command line there is no /metrics: the log is where a failure shows.
    task = asyncio.create_task(service.run(stop, TaskHealth()))
    try:
        waiters = [asyncio.ensure_future(asyncio.sleep(seconds))] + ([done] if done is not None else [])
        await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
    finally:
        stop.set()
        await task


async def run_send(cfg: Settings, args: argparse.Namespace) -> int:
    async with open_store(cfg, args.clock) as app:
        service = sms_sender(app) if args.wait > 0 else app.sms
        try:
            queued = await service.queue(
                args.to,
                template=args.template,
                values=_vars(args.var),
                text=args.text,
                lead_id=args.lead,
                actor=args.actor or getpass.getuser(),
            )
        except (MessageRefused, SmsError, ValueError) as exc:
            raise CliError(_t(cfg, "refused", reason=str(exc))) from None
        if args.wait > 0:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            async def watch() -> None:
                while True:
                    msg = await service.store.get(queued.message_id)
                    if msg is not None and msg.status not in ("queued", "sending"):
                        done.set_result(None)
                        return
                    await asyncio.sleep(0.2)

            watcher = asyncio.create_task(watch())
            await _worker_until(service, cfg, done, args.wait)
            watcher.cancel()
        msg = await service.store.get(queued.message_id)
    assert msg is not None
    if args.json:
        print_json(
            {
                "message_id": msg.id,
                "status": msg.status,
                "parts": msg.parts,
                "not_before": msg.not_before.isoformat(),
                "created": queued.created,
                "last_error": msg.last_error,
            }
        )
    else:
        print(_t(cfg, "queued", id=msg.id, parts=msg.parts, status=_t(cfg, f"status.{msg.status}")))
    return 0


async def run_wave(cfg: Settings, args: argparse.Namespace) -> int:
    selection = WaveSelection(args.model, tuple(args.current or ()), args.min_age, args.max_age, args.limit)
    async with open_store(cfg, args.clock) as app:
        service = app.sms
        try:
            report = await service.start_wave(
                args.name or f"{args.template} {app.clock.now().date()}",
                args.template,
                selection,
                actor=args.actor or getpass.getuser(),
                wait_hours=args.wait_hours,
                min_reply_rate=args.min_reply_rate,
                handoff=args.handoff,
            )
        except SmsError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json(dataclasses.asdict(report) | {"refused": dict(report.refused)})
        return 0
    print(_t(cfg, "wave", id=report.wave_id, selected=report.selected, queued=report.queued, parts=report.parts))
    if report.refused:
        print_table([_t(cfg, "col.reason"), _t(cfg, "col.count")], sorted(report.refused.items()))
    return 0


async def run_replies(cfg: Settings, args: argparse.Namespace) -> int:
    async with open_store(cfg, args.clock) as app:
        service = app.sms
        rows = await service.store.inbound(unmatched=args.unmatched, limit=args.limit)
    if args.json:
        print_json([dataclasses.asdict(r) | {"at": r.at.isoformat()} for r in rows])
        return 0
    tz = service.rules.tz
    print_table(
        [
            _t(cfg, "col.id"),
            _t(cfg, "col.at"),
            _t(cfg, "col.sender"),
            _t(cfg, "col.text"),
            _t(cfg, "col.kind"),
            _t(cfg, "col.lead"),
        ],
        [
            (
                r.id,
                r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                r.sender,
                r.text,
                _t(cfg, f"kind.{r.kind}"),
                r.lead_id or "-",
            )
            for r in rows
        ],
    )
    return 0


async def run_reminders(cfg: Settings, args: argparse.Namespace) -> int:
    day = date.fromisoformat(args.date) if args.date else None
    async with open_store(cfg, args.clock) as app:
        queued, refused = await app.sms.send_reminders(day, args.actor or getpass.getuser())
    if args.json:
        print_json({"queued": [q.message_id for q in queued], "refused": {str(k): v for k, v in refused.items()}})
        return 0
    print(_t(cfg, "reminders", queued=len(queued), refused=len(refused)))
    if refused:
        print_table([_t(cfg, "col.lead"), _t(cfg, "col.reason")], sorted(refused.items()))
    return 0


async def run_status(cfg: Settings, args: argparse.Namespace) -> int:
    async with open_store(cfg, args.clock) as app:
        service = app.sms
        counts = await service.store.status_counts(args.wave)
        waves = await service.store.waves()
        tasks = await service.store.call_tasks()
        held = await service.store.messages(ambiguous=True) if args.ambiguous else []
    if args.json:
        print_json(
            {
                "messages": counts,
                "open_call_tasks": len(tasks),
                "waves": [dataclasses.asdict(w) | {"selection": dict(w.selection)} for w in waves],
                "ambiguous": [m.id for m in held],
            }
        )
        return 0
    print_table([_t(cfg, "col.status"), _t(cfg, "col.count")], [(_t(cfg, f"status.{k}"), v) for k, v in counts.items()])
    print(_t(cfg, "tasks", count=len(tasks)))
    if waves:
        print_table(
            [_t(cfg, "col.id"), _t(cfg, "col.name"), _t(cfg, "col.phase"), _t(cfg, "col.rate")],
            [
                (w.id, w.name, _t(cfg, f"phase.{w.phase}"), "-" if w.reply_rate is None else f"{w.reply_rate:.1%}")
                for w in waves
            ],
        )
    if held:
        print_table(
            [_t(cfg, "col.id"), _t(cfg, "col.sender"), _t(cfg, "col.reason")],
            [(m.id, m.to_e164, m.last_error or "") for m in held],
        )
    return 0


async def run_worker(cfg: Settings, args: argparse.Namespace) -> int:
    seconds = args.seconds if args.seconds > 0 else float("inf")
    if cfg.sms.driver == "pbx":
        # The PBX driver sends over the dialer's AMI link and hears replies in its event stream.
        async with open_app(cfg, args.clock) as app:
            await _worker_until(app.sms, cfg, None, seconds)
        return 0
    async with open_store(cfg, args.clock) as app:
        service = sms_sender(app)
        await _worker_until(service, cfg, None, seconds)
    return 0


Handler = Callable[[Settings, argparse.Namespace], Awaitable[int]]


def _guard(handler: Handler) -> Handler:
    """Turn store and SMS errors into one CLI line."""

    async def wrapped(cfg: Settings, args: argparse.Namespace) -> int:
        try:
            return int(await handler(cfg, args))
        except (StoreError, SmsError) as exc:
            raise CliError(str(exc)) from None

    return wrapped


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer sms`` and its actions to the command line."""
    p = sub.add_parser("sms", help="SMS: send, repurchase waves, replies, visit reminders, status")
    sms = p.add_subparsers(dest="sms_command", metavar="ACTION", required=True)

    send = sms.add_parser("send", help="queue one SMS (template or free text) and send it")
    send.add_argument("--to", required=True, help="mobile number")
    what = send.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", help="template name from the template file")
    what.add_argument("--text", help="free text (the dealer signature is added)")
    send.add_argument("--var", action="append", default=[], help="template variable name=value (repeatable)")
    send.add_argument("--lead", type=int, help="the lead this message belongs to")
    send.add_argument("--wait", type=float, default=20.0, help="seconds to run the sender for it (0: only queue)")
    send.add_argument("--actor")
    send.add_argument("--json", action="store_true")
    send.set_defaults(handler=_guard(run_send))

    wave = sms.add_parser("wave", help="start a repurchase SMS wave to base customers")
    wave.add_argument("--template", default="repurchase")
    wave.add_argument("--model", required=True, help="the model the wave promotes")
    wave.add_argument("--current", action="append", help="only owners of this car model (repeatable)")
    wave.add_argument("--min-age", type=float, help="minimum car age in years")
    wave.add_argument("--max-age", type=float, help="maximum car age in years")
    wave.add_argument("--limit", type=int)
    wave.add_argument("--name")
    wave.add_argument("--wait-hours", type=float, help="reply window before the decision (default from [sms])")
    wave.add_argument("--min-reply-rate", type=float, help="below this reply rate, hand over to calling")
    wave.add_argument("--handoff", choices=("non_repliers", "all", "interested"))
    wave.add_argument("--actor")
    wave.add_argument("--json", action="store_true")
    wave.set_defaults(handler=_guard(run_wave))

    rep = sms.add_parser("replies", help="inbound SMS, newest first")
    rep.add_argument("--unmatched", action="store_true", help="only replies no lead could be matched to")
    rep.add_argument("--limit", type=int, default=100)
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(handler=_guard(run_replies))

    rem = sms.add_parser("reminders", help="queue the reminders of visits booked for tomorrow (or --date)")
    rem.add_argument("--date", help="YYYY-MM-DD, dealer local date of the visits")
    rem.add_argument("--actor")
    rem.add_argument("--json", action="store_true")
    rem.set_defaults(handler=_guard(run_reminders))

    st = sms.add_parser("status", help="outbox counts, waves, open call tasks")
    st.add_argument("--wave", type=int, help="counts of one wave only")
    st.add_argument("--ambiguous", action="store_true", help="list messages held because a submit got no answer")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=_guard(run_status))

    run = sms.add_parser("run", help="the SMS worker: send the outbox, take receipts and replies, decide waves")
    run.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: run until interrupted)")
    run.set_defaults(handler=_guard(run_worker))
