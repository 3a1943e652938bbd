"""``dialer campaign`` (create, list, start, pause, resume, stop, status, why).

What a supervisor reads is Chinese unless ``ui.language`` (or ``--lang``) says ``en``; ``--json``
prints the same facts for scripts. Pause and stop never cut a live call: they stop new dials,
and calls already placed end on their own (docs/campaigns.md).
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialer.app import campaign_runner, open_app, open_store
from dialer.campaigns.runner import CampaignRunner
from dialer.campaigns.service import CampaignService, WhyAnswer, record_json, status_json
from dialer.cli import CliError
from dialer.cli.dealers import add_dealer_options, chosen_dealers, dealer_cell, dealer_codes, dealer_header
from dialer.cli.output import print_json, print_table
from dialer.clock import Clock
from dialer.domain.campaigns.errors import CampaignError
from dialer.domain.campaigns.lifecycle import PERSON_COMMANDS, Command
from dialer.i18n import translate
from dialer.lab.desk import SimulatedDesk
from dialer.settings import Settings
from dialer.store.process_lock import LeaseHeld, LeaseLost


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer campaign`` to the command line."""
    p = sub.add_parser("campaign", help="outbound campaigns: create from a TOML file, start/pause/stop, status, why")
    actions = p.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="validate a campaign file and store it as a draft")
    create.add_argument("file", type=Path)
    create.add_argument("--actor", help="who creates it (default: the login name)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=run_create)
    listing = actions.add_parser("list", help="the dealer's campaigns (--group: every dealer's)")
    listing.add_argument("--json", action="store_true")
    add_dealer_options(listing)
    listing.set_defaults(handler=run_list)
    for command in PERSON_COMMANDS:
        action = actions.add_parser(command.value, help=f"{command.value} a campaign (never cuts a live call)")
        action.add_argument("campaign_id", type=int, metavar="ID")
        action.add_argument("--actor", help="who does it (default: the login name)")
        action.add_argument("--json", action="store_true")
        action.set_defaults(handler=run_lifecycle, lifecycle=command)
    status = actions.add_parser("status", help="dialled, connected, outcomes, remaining and ETA")
    status.add_argument("campaign_id", type=int, metavar="ID")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)
    why = actions.add_parser("why", help="every reason a lead is not being dialled")
    why.add_argument("lead_id", type=int, metavar="LEAD")
    why.add_argument(
        "--campaign", type=int, metavar="ID", help="only this campaign (default: every campaign the lead is in)"
    )
    why.add_argument("--json", action="store_true")
    why.set_defaults(handler=run_why)
    run = actions.add_parser("run", help="dial a running campaign through the PBX until it completes or is stopped")
    run.add_argument("campaign_id", type=int, metavar="ID")
    run.add_argument(
        "--simulated-agents",
        action="store_true",
        help="agents' dispositions filed by the lab's simulated desk (for the lab and demos)",
    )
    run.add_argument("--seed", type=int, default=1, help="seed of the simulated desk's choices")
    run.set_defaults(handler=run_runner)


@asynccontextmanager
async def _campaigns(cfg: Settings, clock: Clock) -> AsyncIterator[CampaignService]:
    """The store and the campaign service; campaign errors become one clear line."""
    async with open_store(cfg, clock) as app:
        try:
            yield app.campaigns
        except CampaignError as exc:
            raise CliError(str(exc)) from None


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(key, cfg.ui.language, **params)


def _local(cfg: Settings, at: datetime | None) -> str:
    return "" if at is None else at.astimezone(ZoneInfo(cfg.dealer.timezone)).strftime("%Y-%m-%d %H:%M")


async def run_create(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign create FILE``."""
    async with _campaigns(cfg, args.clock) as campaigns:
        record = await campaigns.create(args.file, args.actor or getpass.getuser())
    if args.json:
        print_json(record_json(record))
    else:
        print(_t(cfg, "campaign.created", id=record.id, name=record.definition.name))
    return 0


async def run_list(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign list``."""
    async with open_store(cfg, args.clock) as app:
        dealers = await chosen_dealers(app, args)
        records = await app.campaigns.all(dealers)
        codes = await dealer_codes(app)
        if args.json:
            print_json([{**record_json(r), "dealer": codes.get(r.dealer_id)} for r in records])
            return 0
        if not records:
            print(_t(cfg, "campaign.none"))
            return 0
        headers = [_t(cfg, f"campaign.col.{c}") for c in ("id", "name", "kind", "mode", "status", "lines", "created")]
        print_table(
            headers + ([dealer_header(app)] if dealers.mixed else []),
            [
                (
                    r.id,
                    r.definition.name,
                    _t(cfg, f"campaign.kind.{r.definition.kind.value}"),
                    _t(cfg, f"campaign.mode.{r.definition.mode.value}"),
                    _t(cfg, f"campaign.status.{r.status.value}"),
                    r.definition.lines,
                    _local(cfg, r.created_at),
                    *([dealer_cell(app, codes, r.dealer_id)] if dealers.mixed else []),
                )
                for r in records
            ],
        )
    return 0


async def run_lifecycle(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign start|pause|resume|stop ID``."""
    command: Command = args.lifecycle
    async with _campaigns(cfg, args.clock) as campaigns:
        record, enrolled = await campaigns.command(args.campaign_id, command, args.actor or getpass.getuser())
    if args.json:
        print_json({**record_json(record), "enrolled": enrolled})
    else:
        print(_t(cfg, f"campaign.done.{command.value}", id=record.id, name=record.definition.name, enrolled=enrolled))
    return 0


async def run_runner(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign run ID``: the campaign's dialer, in this process, until done."""
    desk = SimulatedDesk(cfg.dealer.timezone, seed=args.seed) if args.simulated_agents else None
    try:
        async with open_app(cfg, args.clock) as app:
            runner: CampaignRunner
            runner = campaign_runner(
                app, args.campaign_id, on_wrap_up=None if desk is None else (lambda wrap: desk(runner, wrap))
            )
            try:
                summary = await runner.run()
            except CampaignError as exc:
                raise CliError(str(exc)) from None
    except LeaseHeld as exc:  # another node drives this PBX (a dealer group on PostgreSQL)
        raise CliError(
            _t(cfg, "campaign.pbx_leased", pbx=exc.pbx, node=exc.node, until=_local(cfg, exc.expires_at))
        ) from None
    except LeaseLost as exc:
        raise CliError(
            _t(cfg, "campaign.lease_lost", pbx=exc.pbx, node=exc.node, at=_local(cfg, exc.expired_at))
        ) from None
    outcomes = ", ".join(
        f"{translate('outcome.' + o.value, cfg.ui.language)} {n}" for o, n in sorted(summary.outcomes.items())
    )
    status = _t(cfg, f"campaign.status.{summary.status.value}")
    print(
        _t(
            cfg,
            "campaign.run_done",
            id=summary.campaign_id,
            status=status,
            dialled=summary.dialled,
            outcomes=outcomes or "—",
        )
    )
    return 0 if summary.failures == 0 else 1


async def run_status(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign status ID``."""
    async with _campaigns(cfg, args.clock) as campaigns:
        report = await campaigns.status(args.campaign_id)
    if args.json:
        print_json(status_json(report))
        return 0
    r = report.campaign
    print(
        _t(
            cfg,
            "campaign.status.title",
            id=r.id,
            name=r.definition.name,
            status=_t(cfg, f"campaign.status.{r.status.value}"),
        )
    )
    facts = [
        ("campaign.status.enrolled", report.enrolled),
        ("campaign.status.dialled", report.dialled),
        ("campaign.status.in_flight", report.in_flight),
        ("campaign.status.connected", report.connected),
        ("campaign.status.remaining", report.remaining),
        ("campaign.status.rate", f"{report.rate_per_hour:.1f}"),
        ("campaign.status.eta", _local(cfg, report.eta) or _t(cfg, "campaign.status.no_eta")),
    ]
    print_table([_t(cfg, "campaign.col.item"), _t(cfg, "campaign.col.value")], [(_t(cfg, k), v) for k, v in facts])
    if report.outcomes:
        print()
        print_table(
            [_t(cfg, "col.outcome"), _t(cfg, "campaign.col.count")],
            [(_t(cfg, f"outcome.{o.value}"), n) for o, n in sorted(report.outcomes.items(), key=lambda kv: -kv[1])],
        )
    return 0


def _why_json(a: WhyAnswer, lang: str) -> dict[str, Any]:
    return {
        "campaign_id": a.campaign.id,
        "campaign": a.campaign.definition.name,
        "dialable": not a.blockers,
        "reasons": [{"reason": b.reason.value, "text": b.text(lang), **b.params} for b in a.blockers],
    }


async def run_why(cfg: Settings, args: argparse.Namespace) -> int:
    """``dialer campaign why LEAD [--campaign ID]``."""
    lang = cfg.ui.language
    async with _campaigns(cfg, args.clock) as campaigns:
        answers = await campaigns.why(args.lead_id, args.campaign)
    if args.json:
        print_json([_why_json(a, lang) for a in answers])
        return 0
    if not answers:
        print(_t(cfg, "campaign.why.in_no_campaign", lead=args.lead_id))
        return 0
    for a in answers:
        print(_t(cfg, "campaign.why.title", lead=args.lead_id, id=a.campaign.id, name=a.campaign.definition.name))
        if not a.blockers:
            print(f"  - {_t(cfg, 'campaign.why.dialable')}")
        for b in a.blockers:
            print(f"  - {b.text(lang)}")
    return 0
