"""``dialer demo``: the whole system on the embedded defaults, in a few minutes.

It brings up the lab (a private Asterisk, SIPp customers and agents' phones), imports the
demo leads, runs a campaign through the PBX with simulated agents filing their results,
then shows what a DCC sees afterwards: the calls and recordings, the DOSS import sheet and
the month's KPIs. The demo keeps its data in its own store (``var/demo/``), started afresh
each run, so it never mixes with real data.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dialer.app import App, campaign_runner, open_app
from dialer.campaigns.lifecycle import Command
from dialer.campaigns.runner import CampaignRunner
from dialer.cli import CliError, call, campaign, doss, kpi
from dialer.i18n import translate
from dialer.lab.desk import SimulatedDesk
from dialer.lab.errors import LabError
from dialer.lab.lab import Lab
from dialer.recording.model import Recording
from dialer.settings import Settings

DEMO_DIR = "var/demo"
LEADS_TEMPLATE = "config/demo/leads.csv"
CAMPAIGN_FILE = "config/demo/campaign.toml"
PROGRESS_EVERY_S = 3.0
# Registration (hash, compression) runs after each call; give the last ones this many half-seconds.
REGISTRY_WAIT_ROUNDS = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole system on the lab: leads, a campaign, agents, results")
    p.add_argument("--keep-lab", action="store_true", help="leave the lab running afterwards")
    p.set_defaults(handler=run)


def run(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language
    demo = _demo_settings(cfg)
    lab = Lab(demo)
    _step(lang, 1, "demo.step.lab")
    try:
        status = lab.up()
    except LabError as exc:
        raise CliError(f"{translate('demo.lab_failed', lang)}: {exc}") from None
    for proc in status.processes:
        print(f"    {proc.name:<11} PID {proc.pid:<7} 127.0.0.1:{proc.port}")
    try:
        return asyncio.run(_run(demo, lang))
    finally:
        if not args.keep_lab and not status.already:
            lab.down()
            print(translate("demo.lab_down", lang))


async def _run(cfg: Settings, lang: str) -> int:
    async with open_app(cfg) as app:
        _step(lang, 2, "demo.step.leads")
        report = await app.leads.importer.import_file(_leads_file(cfg, app.clock.now()), actor="销售经理")
        print("    " + translate("demo.imported", lang, created=report.created, rejected=len(report.rejections)))

        _step(lang, 3, "demo.step.campaign")
        record = await app.campaigns.create(cfg.path(CAMPAIGN_FILE), actor="DCC主管")
        _, enrolled = await app.campaigns.command(record.id, Command.START, actor="DCC主管")
        print("    " + translate("demo.campaign", lang, id=record.id, name=record.definition.name, enrolled=enrolled))
        desk = SimulatedDesk(cfg.dealer.timezone)
        runner: CampaignRunner
        runner = campaign_runner(app, record.id, on_wrap_up=lambda wrap: desk(runner, wrap))
        task = asyncio.create_task(runner.run())
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_EVERY_S)
            report_now = await app.campaigns.status(record.id)
            print("    " + translate("demo.progress", lang, dialled=report_now.dialled, total=enrolled,
                                      live=len(app.calls.live()) if app.calls else 0, lines=cfg.pbx.outbound_lines))
        summary = task.result()

        _step(lang, 4, "demo.step.results")
        attempts = sorted(await app.attempts.list(limit=enrolled * 2), key=lambda a: a.id)
        call.print_attempts(attempts, lang)
        recorded = await _registered_recordings(app, [a.call_id for a in attempts if a.connected_at])
        print("    " + translate("demo.recordings", lang, count=len(recorded), folder=app.recordings.root))
        for rec in recorded[:3]:
            print(f"      {rec.path}  {rec.duration_s:.1f}s  {rec.format.value}  sha256 {rec.sha256[:12]}…")
        print("    " + translate("demo.dispositions", lang, count=len(desk.filed)))

    today = app.clock.now().astimezone(ZoneInfo(cfg.dealer.timezone))
    _step(lang, 5, "demo.step.doss")
    await doss.run_export(cfg, argparse.Namespace(date=today.date(), to=None, out=None))
    _step(lang, 6, "demo.step.kpi")
    await kpi.run(cfg, argparse.Namespace(month=f"{today:%Y-%m}", agent=None, json=False))
    _step(lang, 7, "demo.step.status")
    await campaign.run_status(cfg, argparse.Namespace(campaign_id=record.id, json=False))
    return 0 if summary.failures == 0 else 1


async def _registered_recordings(app: App, call_ids: list[str]) -> list[Recording]:
    """The registry rows of these calls, once the after-call registration (and compression) is done."""
    found: list[Recording] = []
    for _ in range(REGISTRY_WAIT_ROUNDS):
        found = [r for cid in call_ids if (r := await app.recording_store.get_by_call(cid)) is not None]
        if len(found) == len(call_ids):
            break
        await asyncio.sleep(0.5)
    return found


def _demo_settings(cfg: Settings) -> Settings:
    """The user's settings with the demo's own store, recordings and exports, started afresh."""
    folder = cfg.path(DEMO_DIR)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return dataclasses.replace(
        cfg,
        store=dataclasses.replace(cfg.store, path=str(folder / "dialer.sqlite3")),
        doss=dataclasses.replace(cfg.doss, export_dir=str(folder / "doss")),
    )


def _leads_file(cfg: Settings, now: datetime) -> Path:
    """The demo leads with HQ issue and hand-over times a few hours back, as on a working day."""
    local = now.astimezone(ZoneInfo(cfg.dealer.timezone))
    text = cfg.path(LEADS_TEMPLATE).read_text(encoding="utf-8").format(
        issued=f"{local - timedelta(hours=20):%Y-%m-%d %H:%M}", handed=f"{local - timedelta(hours=30):%Y-%m-%d %H:%M}"
    )
    out = cfg.path(DEMO_DIR) / "leads.csv"
    out.write_text(text, encoding="utf-8")
    return out


def _step(lang: str, n: int, key: str) -> None:
    print(f"\n[{n}/7] {translate(key, lang)}", flush=True)
