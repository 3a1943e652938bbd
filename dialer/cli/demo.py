"""``dialer demo``: the whole system on the embedded defaults, in a few minutes.

It brings up the lab (a private Asterisk, SIPp customers and agents' phones), creates the
console's users with fresh passwords, starts the one service (:func:`dialer.server.serve`: PBX
link, campaign runners, web console) and prints its address before anything dials, so the person
can watch the wallboard. Then the DCC's day in miniature: the sales manager's leads and the base
customers are imported; a repurchase SMS wave goes to the base customers through the SMSC
simulator and a few simulated customers reply (one interested, one "T" to opt out); the agents
work the new leads in a progressive campaign; the SMS cadence hands the silent customers (and the
interested one, first) to a repurchase call campaign. Simulated agents file every talk's result.
Then the loop closes in the showroom: two invited customers come (the first test-drives and buys),
the sales manager records it. Afterwards it shows what a DCC sees: calls and recordings, the DOSS
import sheet, the month's KPIs (invite-to-store rate and deals), the campaigns' status and the SMS
counts. Last, the demo's clock moves on to the morning after the visit day: the invited customers who
did not come are due, tagged no-show, and are called again (they book a new time); the console then
stays up until Ctrl-C.

The demo keeps its data in its own folder (``var/demo/`` under the project), started afresh
each run, so it never mixes with real data. Its input files (``config/demo/``) ship beside the
code, like the lab's Asterisk templates.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.ami.errors import AmiError
from dialer.app import App, open_store, sms_sender
from dialer.campaigns.runner import RunSummary
from dialer.cli import CliError, call, campaign, doss, kpi, leads, sms
from dialer.cli.output import print_table
from dialer.cli.web import until_interrupted
from dialer.clock import Clock, ShiftedClock
from dialer.domain.access.policy import Role
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.leads.deadlines import DueKind
from dialer.domain.leads.model import Lead, LeadSource, LeadState
from dialer.domain.leads.records import LeadQuery
from dialer.domain.recording.model import Recording
from dialer.domain.sms.cadence import Handoff, Phase
from dialer.domain.sms.rules import ReplyKind
from dialer.i18n import translate
from dialer.lab.desk import SimulatedDesk
from dialer.lab.errors import LabError
from dialer.lab.lab import Lab
from dialer.leads.service import DueScope
from dialer.logs import configure
from dialer.server import Server, serve
from dialer.settings import Settings
from dialer.sms.service import SmsService, WaveSelection
from dialer.sms.simulator import SimScript, SmscSimulator
from dialer.store.process_lock import StoreInUse

DEMO_DIR = "var/demo"
# The demo's input files ship beside the code, like the lab's templates (dialer/lab/render.py), so
# a config file kept anywhere (the tests keep theirs in a temporary folder) still finds them.
DEMO_FILES = Path(__file__).resolve().parents[2] / "config" / "demo"
LEADS_TEMPLATE = DEMO_FILES / "leads.csv"
CAMPAIGN_FILE = DEMO_FILES / "campaign.toml"
REPURCHASE_FILE = DEMO_FILES / "repurchase.toml"
NO_SHOW_FILE = DEMO_FILES / "no_show.toml"  # the invited customers who did not come, called again
SMS_REPLIES = DEMO_FILES / "sms_replies.json"  # the SMSC simulator's customers who answer (SimScript)
PROGRESS_EVERY_S = 3.0
POLL_S = 0.5
# Registration (hash, compression) runs after each call; give the last ones this long.
REGISTRY_LIMIT_S = 10.0
# SMS receipts and the scripted replies come back within a second or two; this only ends a hang.
SMS_LIMIT_S = 30.0
# The repurchase wave: owners of cars 3 to 8 years old (as the repurchase campaign's filter),
# promoting one model. The real reply window is days (sms.cadence_wait_hours); the demo waits
# seconds. Two replies of six customers is a third, below the demo's threshold of a half, so the
# silent customers are handed to calls (the interested one already has its call, first).
WAVE = WaveSelection(promote_model="迈锐宝XL", min_car_age_years=3, max_car_age_years=8)
WAVE_TEMPLATE = "repurchase"
WAVE_WAIT_S = 20.0
WAVE_MIN_REPLY_RATE = 0.5
# The console's people for this run: one supervisor, one sales manager, three agents whose
# phones are the lab's agent1..agent3 endpoints; the first two with their own mobiles (their
# customers' visit notices go there).
USERS: tuple[tuple[str, Role, str | None, str | None], ...] = (
    ("supervisor", Role.SUPERVISOR, None, None),
    ("manager", Role.SALES_MANAGER, None, None),
    ("agent1", Role.AGENT, "agent1", "13900139000"),
    ("agent2", Role.AGENT, "agent2", "13700137000"),
    ("agent3", Role.AGENT, "agent3", None),
)
# The names config/demo/leads.csv writes in 负责人, as the sales manager maps them to the agents.
OWNER_ALIASES = (("王丽", "agent1"), ("李强", "agent2"))
SUPERVISOR_ACTOR = "DCC主管"
MANAGER_ACTOR = "销售经理"
_STEPS = ("lab", "users", "console", "leads_all", "sms", "campaign", "repurchase", "showroom", "results", "doss", "kpi",
          "statuses", "sms_results", "no_show")  # fmt: skip
# Of the customers the agents invited, this many come to the store (the first test-drives and buys);
# at least one is left to not come.
VISITORS = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer demo`` to the CLI."""
    p = sub.add_parser(
        "demo", help="run the whole system on the lab: console, leads, SMS wave, campaigns, agents, results"
    )
    p.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards")
    p.add_argument("--exit-when-done", action="store_true",
                   help="stop after the results instead of keeping the console up until Ctrl-C (the default off a terminal)")  # fmt: skip
    p.add_argument("--port", type=int, help="console port (default from [web]; 0: any free port)")
    p.set_defaults(handler=run)


class _Steps:
    """Prints ``[n/N] heading`` for each step of the demo, in order."""

    def __init__(self, lang: str) -> None:
        self._lang = lang
        self._done = 0

    def next(self, name: str) -> None:
        assert _STEPS[self._done] == name, f"demo step {name!r} out of order (expected {_STEPS[self._done]!r})"
        self._done += 1
        print(f"\n[{self._done}/{len(_STEPS)}] {translate(f'demo.step.{name}', self._lang)}", flush=True)


def run(cfg: Settings, args: argparse.Namespace) -> int:
    """The demo; exit code 1 when any part did not work (each problem printed), 0 otherwise."""
    lang = cfg.ui.language
    demo = _demo_settings(cfg)
    level = args.log_level or cfg.log.level
    log_file = demo.path(DEMO_DIR) / "dialer.log"
    with log_file.open("a", encoding="utf-8") as log_stream:
        # The terminal tells the demo's story; the services' logs would drown it, so they go to a file.
        configure(level=level, json=True, stream=log_stream)
        try:
            problems = _with_lab(demo, args, log_file)
        finally:
            configure(level=level, json=cfg.log.json)
    for problem in problems:
        print(translate("demo.problem", lang, what=problem), file=sys.stderr)
    return 1 if problems else 0


def _with_lab(cfg: Settings, args: argparse.Namespace, log_file: Path) -> list[str]:
    """Lab up, the demo, lab down (unless kept or it was already running); the problems found."""
    lang = cfg.ui.language
    steps = _Steps(lang)
    steps.next("lab")
    print("    " + translate("demo.log_file", lang, path=log_file))
    lab = Lab(cfg)
    try:
        status = lab.up()
    except LabError as exc:
        raise CliError(f"{translate('demo.lab_failed', lang)}: {exc}") from None
    for proc in status.processes:
        print(f"    {proc.name:<11} PID {proc.pid:<7} 127.0.0.1:{proc.port}")
    linger = not args.exit_when_done and sys.stdin is not None and sys.stdin.isatty()
    try:
        return asyncio.run(_run(cfg, args.clock, steps, port=args.port, linger=linger))
    except (AmiError, StoreInUse, OSError) as exc:  # no PBX link, the console's port taken, ...
        raise CliError(str(exc)) from None
    finally:
        if not args.keep_lab and not status.already:
            lab.down()
            print(translate("demo.lab_down", lang))


async def _run(cfg: Settings, clock: Clock, steps: _Steps, *, port: int | None, linger: bool) -> list[str]:
    """Everything after the lab is up; returns the problems found (empty: all worked)."""
    lang = cfg.ui.language
    problems: list[str] = []
    # Real time, which the demo moves on at the end to the morning after the booked visits.
    clock = ShiftedClock(base=clock)
    steps.next("users")
    await _create_users(cfg, clock)
    steps.next("console")
    desk = SimulatedDesk(cfg.dealer.timezone)
    async with serve(cfg, clock=clock, port=port, on_wrap_up=desk) as server:
        print("    " + translate("server.console_at", lang, url=server.url))
        print("    " + translate("demo.console", lang, url=f"{server.url}/wallboard", user=USERS[0][0]), flush=True)
        app = server.app
        steps.next("leads_all")
        report = await app.leads.importer.import_file(_leads_file(cfg, app.clock.now()), actor=MANAGER_ACTOR)
        print("    " + translate("demo.imported", lang, created=report.created, rejected=len(report.rejections)))

        steps.next("sms")
        async with _sms_gateway(cfg, app) as gateway:
            wave_id = await _send_wave(gateway, lang, problems)
            steps.next("campaign")
            summaries = [await _dial(server, CAMPAIGN_FILE, lang)]
            # The same three agents work the repurchase calls once the new leads are done.
            steps.next("repurchase")
            await _wave_decided(gateway, wave_id, lang, problems)
            summaries.append(await _dial(server, REPURCHASE_FILE, lang))
            problems += [
                translate("demo.problem.calls", lang, id=s.campaign_id, count=s.failures)
                for s in summaries
                if s.failures
            ]
            steps.next("showroom")
            no_shows = await _showroom(app, lang, problems)

            steps.next("results")
            await _show_calls(app, lang, len(desk.filed))
            today = app.clock.now().astimezone(ZoneInfo(cfg.dealer.timezone))
            steps.next("doss")
            await doss.run_export(
                cfg, argparse.Namespace(date=today.date(), to=None, out=None, dealer=None, group=False, clock=app.clock)
            )
            steps.next("kpi")
            await kpi.run(
                cfg,
                argparse.Namespace(
                    month=f"{today:%Y-%m}", agent=None, json=False, dealer=None, group=False, clock=app.clock
                ),
            )
            steps.next("statuses")
            for summary in summaries:
                await campaign.run_status(
                    cfg, argparse.Namespace(campaign_id=summary.campaign_id, json=False, clock=app.clock)
                )
            steps.next("sms_results")
            await sms.run_status(cfg, argparse.Namespace(wave=None, ambiguous=False, json=False, clock=app.clock))
            steps.next("no_show")
            await _no_shows(server, desk, clock, no_shows, lang, problems)
            if linger:
                print("\n" + translate("demo.linger", lang, url=server.url), flush=True)
                await until_interrupted()
    return problems


async def _create_users(cfg: Settings, clock: Clock) -> None:
    """The console's logins for this run, each with a new random password, printed for the person at the screen.

    A loopback demo with a fresh store: printing the passwords is how the person logs in, and
    they are worthless after the run (the next run starts a new store).
    """
    lang = cfg.ui.language
    rows = []
    async with open_store(cfg, clock) as app:
        auth = app.auth
        for name, role, agent, mobile in USERS:
            password = secrets.token_urlsafe(9)
            await auth.add_user(name, role.value, password, agent=agent, mobile=mobile)
            rows.append((name, translate(f"web.role.{role.value}", lang), agent, password))
        for alias, user in OWNER_ALIASES:
            await app.manager.add_alias(alias, user, MANAGER_ACTOR)
    print_table([translate(f"demo.col.{c}", lang) for c in ("user", "role", "agent", "password")], rows)


@asynccontextmanager
async def _sms_gateway(cfg: Settings, app: App) -> AsyncIterator[SmsService]:
    """The SMSC simulator on loopback (its customers reply as ``config/demo/sms_replies.json`` says)
    and the SMS worker sending through it, for the block; yields the worker's service."""
    sim = SmscSimulator(
        cfg.sms.smpp_host, cfg.sms.smpp_port, cfg.path(DEMO_DIR) / "smsc.jsonl", SimScript.load(SMS_REPLIES)
    )
    await sim.start()
    print("    " + translate("demo.smsc", cfg.ui.language, host=cfg.sms.smpp_host, port=cfg.sms.smpp_port))
    try:
        service = sms_sender(app)
        stop = asyncio.Event()
        worker = asyncio.create_task(service.run(stop, app.health), name="demo-sms-worker")
        try:
            yield service
        finally:
            stop.set()
            await worker
    finally:
        await sim.stop()


async def _send_wave(gateway: SmsService, lang: str, problems: list[str]) -> int:
    """Queue the wave and wait until it is delivered and the scripted customers have replied."""
    report = await gateway.start_wave("演示：再购短信", WAVE_TEMPLATE, WAVE, actor=SUPERVISOR_ACTOR, wait_hours=WAVE_WAIT_S / 3600,
                                      min_reply_rate=WAVE_MIN_REPLY_RATE, handoff=Handoff.NON_REPLIERS.value)  # fmt: skip
    print("    " + translate("demo.wave", lang, id=report.wave_id, queued=report.queued, selected=report.selected,
                             model=WAVE.promote_model))  # fmt: skip
    expected = len(SimScript.load(SMS_REPLIES).replies)

    async def delivered() -> int:
        return (await gateway.store.status_counts(report.wave_id))["delivered"]

    async def replies() -> dict[str, int]:
        kinds = [row.kind for row in await gateway.store.inbound()]
        return {kind.value: kinds.count(kind.value) for kind in ReplyKind}

    async def arrived() -> bool:
        return await delivered() == report.queued and sum((await replies()).values()) >= expected

    if not await _poll(arrived, SMS_LIMIT_S):
        problems.append(translate("demo.problem.sms", lang, delivered=await delivered(), queued=report.queued,
                                  replies=sum((await replies()).values()), expected=expected))  # fmt: skip
    got = await replies()
    print("    " + translate("demo.wave_sent", lang, delivered=await delivered(), queued=report.queued,
                             interested=got[ReplyKind.INTERESTED], opt_out=got[ReplyKind.OPT_OUT], other=got[ReplyKind.OTHER]))  # fmt: skip
    print(
        "    " + translate("demo.wave_wait", lang, seconds=int(WAVE_WAIT_S), rate=f"{WAVE_MIN_REPLY_RATE:.0%}"),
        flush=True,
    )
    return report.wave_id


async def _wave_decided(gateway: SmsService, wave_id: int, lang: str, problems: list[str]) -> None:
    """Wait for the SMS worker to decide the wave (its reply window is over) and say what it decided."""

    async def decided() -> bool:
        wave = await gateway.store.wave(wave_id)
        return wave is not None and wave.phase != Phase.WAITING.value

    if not await _poll(decided, WAVE_WAIT_S + SMS_LIMIT_S):
        problems.append(translate("demo.problem.wave", lang, id=wave_id))
        return
    wave = await gateway.store.wave(wave_id)
    assert wave is not None and wave.reply_rate is not None
    handed = len([t for t in await gateway.store.call_tasks(open_only=False) if t.wave_id == wave_id])
    print("    " + translate("demo.wave_decided", lang, id=wave_id, rate=f"{wave.reply_rate:.0%}",
                             phase=translate(f"sms.phase.{wave.phase}", lang), handed=handed), flush=True)  # fmt: skip


async def _dial(server: Server, definition: Path, lang: str) -> RunSummary:
    """Create and start a campaign as the supervisor would; this process's runner dials it to the end."""
    app = server.app
    record = await app.campaigns.create(definition, actor=SUPERVISOR_ACTOR)
    _, enrolled = await app.campaigns.command(record.id, Command.START, actor=SUPERVISOR_ACTOR)
    print(
        "    " + translate("demo.campaign", lang, id=record.id, name=record.definition.name, enrolled=enrolled),
        flush=True,
    )
    # The watcher may have seen the start already; either way exactly one runner dials it.
    task = server.running(record.id) or server.run_campaign(record.id)
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
        now = await app.campaigns.status(record.id)
        print("    " + translate("demo.progress", lang, dialled=now.dialled, total=enrolled,
                                  live=len(app.calls.live()) if app.calls else 0, lines=app.settings.pbx.outbound_lines),
              flush=True)  # fmt: skip
    return task.result()


async def _showroom(app: App, lang: str, problems: list[str]) -> list[Lead]:
    """The showroom's day: of the invited customers, :data:`VISITORS` come (the first test-drives and buys),
    reported by the sales manager as on the console; returns the invited customers who did not come."""
    # Prospects first: the invite-to-store rate counts prospects (docs/kpi.md), not base customers.
    invited = sorted((await app.leads.search(LeadQuery(state=LeadState.INVITED, per_page=200))).leads,
                     key=lambda lead: (lead.source is LeadSource.BASE_CUSTOMER, lead.id))  # fmt: skip
    if len(invited) < 2:
        problems.append(translate("demo.problem.invited", lang, count=len(invited)))
    visitors = invited[: min(VISITORS, len(invited) - 1)]
    for n, lead in enumerate(visitors):
        await app.doss.record_milestone(lead.id, LeadState.VISITED, MANAGER_ACTOR, test_drive=n == 0)
        print("    " + translate("demo.visited" if n else "demo.test_drive", lang, id=lead.id, name=lead.name))
    if visitors:
        buyer = visitors[0]
        await app.doss.record_milestone(
            buyer.id, LeadState.DEAL, MANAGER_ACTOR, model=buyer.model or WAVE.promote_model
        )
        print(
            "    " + translate("demo.deal", lang, id=buyer.id, name=buyer.name, model=buyer.model or WAVE.promote_model)
        )
    rest = invited[len(visitors) :]
    print("    " + translate("demo.not_yet", lang, count=len(rest)), flush=True)
    return rest


async def _no_shows(
    server: Server, desk: SimulatedDesk, clock: ShiftedClock, no_shows: list[Lead], lang: str, problems: list[str]
) -> None:
    """Move the demo's clock to the morning after the visits: who did not come is due, tagged no-show
    (as ``dialer leads due`` lists it), and the agents call them again; each books a new time."""
    app = server.app
    if not no_shows:
        return
    tz = ZoneInfo(app.settings.dealer.timezone)
    call_time = datetime.strptime(app.settings.leads.no_show_call_time, "%H:%M").time()
    morning = max(
        datetime.combine(lead.visit_at.astimezone(tz).date() + timedelta(days=1), call_time, tz)
        for lead in no_shows
        if lead.visit_at is not None
    )
    clock.jump(max(0.0, (morning - clock.now()).total_seconds() + 60))
    print("    " + translate("demo.moved_on", lang, time=f"{clock.now().astimezone(tz):%Y-%m-%d %H:%M}"))
    due = [i for i in await app.leads.due(DueScope.TODAY) if i.lead.due_kind == DueKind.NO_SHOW.value]
    if len(due) != len(no_shows):
        problems.append(translate("demo.problem.no_show", lang, due=len(due), expected=len(no_shows)))
    leads.print_due(due, lang, app.leads)
    desk.no_shows = {lead.id for lead in no_shows}
    summary = await _dial(server, NO_SHOW_FILE, lang)
    if summary.failures:
        problems.append(translate("demo.problem.calls", lang, id=summary.campaign_id, count=summary.failures))
    again = [await app.leads.store.get(lead.id) for lead in no_shows]
    rebooked = [lead for lead in again if lead.visit_at is not None and lead.visit_at > clock.now()]
    print("    " + translate("demo.rescheduled", lang, count=len(rebooked), total=len(no_shows)), flush=True)


async def _show_calls(app: App, lang: str, filed: int) -> None:
    """Every call with its outcome, the recordings registered for the connected ones, the dispositions filed."""
    attempts = sorted(await app.attempts.recent(limit=500), key=lambda a: a.id)
    call_ids = [a.call_id for a in attempts if a.connected_at]
    recorded: list[Recording] = []
    compress = app.settings.recording.compress

    async def registered() -> bool:
        """Every connected call's recording has its row, in its final format (compressed when configured)."""
        nonlocal recorded
        recorded = [r for cid in call_ids if (r := await app.recording_store.get_by_call(cid)) is not None]
        return len(recorded) == len(call_ids) and all(
            compress == "none" or r.format.value == compress for r in recorded
        )

    await _poll(registered, REGISTRY_LIMIT_S)
    # After the registry has settled the files: the table names the files that are there (the FLACs).
    call.print_attempts(attempts, await app.recordings.current_files(attempts), lang)
    print("    " + translate("demo.recordings", lang, count=len(recorded), folder=app.recordings.root))
    for rec in recorded[:3]:
        print(f"      {rec.path}  {rec.duration_s:.1f}s  {rec.format.value}  sha256 {rec.sha256[:12]}…")
    print("    " + translate("demo.dispositions", lang, count=filed))


async def _poll(check: Callable[[], Awaitable[bool]], limit_s: float) -> bool:
    """Ask ``check`` every :data:`POLL_S` until it holds (True) or ``limit_s`` passed (False).

    The event loop's time, not the services' clock: the demo waits for the real lab's calls."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not await check():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


def _demo_settings(cfg: Settings) -> Settings:
    """The user's settings with the demo's own store, exports and SMS gateway, started afresh.

    The SMS go to the simulator on loopback at any hour; the console runs on plain http on
    loopback, so its cookie cannot be Secure; no nightly backup of a store made for the demo.
    """
    folder = cfg.path(DEMO_DIR)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return dataclasses.replace(
        cfg,
        store=dataclasses.replace(cfg.store, path=str(folder / "dialer.sqlite3")),
        doss=dataclasses.replace(cfg.doss, export_dir=str(folder / "doss")),
        sms=dataclasses.replace(cfg.sms, driver="smpp", smpp_host="127.0.0.1", window="00:00-24:00"),
        web=dataclasses.replace(cfg.web, cookie_secure=False),
        backup=dataclasses.replace(cfg.backup, time=""),  # its clock jumps across nights; its store is thrown away
    )


def _leads_file(cfg: Settings, now: datetime) -> Path:
    """The demo leads with HQ issue and hand-over times a few hours back, as on a working day, and
    base customers who bought their car five years ago (due for repurchase)."""
    local = now.astimezone(ZoneInfo(cfg.dealer.timezone))
    text = LEADS_TEMPLATE.read_text(encoding="utf-8").format(
        issued=f"{local - timedelta(hours=20):%Y-%m-%d %H:%M}",
        handed=f"{local - timedelta(hours=30):%Y-%m-%d %H:%M}",
        bought=f"{local.date().replace(year=local.year - 5, day=min(local.day, 28)):%Y-%m-%d}",
    )
    out = cfg.path(DEMO_DIR) / "leads.csv"
    out.write_text(text, encoding="utf-8")
    return out
