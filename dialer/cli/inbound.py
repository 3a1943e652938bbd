"""``dialer inbound``: where a caller would be routed now, and the inbound queue's members (docs/inbound.md)."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiError
from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.output import print_json
from dialer.domain.campaigns.policy import CallingWindows
from dialer.domain.inbound.errors import InboundError
from dialer.domain.inbound.routing import callback_at, decide_route
from dialer.i18n import translate
from dialer.inbound.queue import InboundQueue
from dialer.phone import InvalidPhone, normalize
from dialer.settings import Settings

# The queue actions ``dialer inbound agents`` offers.
_AGENT_ACTIONS = ("add", "remove", "pause", "unpause")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer inbound`` and its actions to the CLI."""
    p = sub.add_parser("inbound", help="来电路由与来电队列 (inbound routing and queue)")
    cmds = p.add_subparsers(dest="inbound_command", metavar="ACTION", required=True)

    r = cmds.add_parser("route", help="where a call from NUMBER would go right now, and why")
    r.add_argument("number", metavar="NUMBER")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=run_route)

    a = cmds.add_parser("agents", help="add, remove, pause or unpause agents in the inbound queue (needs the PBX)")
    a.add_argument("action", choices=_AGENT_ACTIONS)
    a.add_argument("agents", nargs="+", metavar="AGENT", help="agent endpoints, e.g. agent1 agent2")
    a.set_defaults(handler=run_agents)


async def run_route(cfg: Settings, args: argparse.Namespace) -> int:
    """The routing decision the inbound service would take for this caller now (store only, no PBX)."""
    try:
        phone = normalize(args.number, cfg.dealer.region)
    except InvalidPhone as exc:
        raise CliError(f"NUMBER = {args.number!r}: {exc.reason}") from None
    hours = CallingWindows.from_settings(cfg.inbound.hours, cfg.dealer.timezone)
    async with open_store(cfg, args.clock) as app:
        lead = await app.leads.store.find_by_phone(phone.e164)
        now = app.clock.now()
    route = decide_route(now, lead.owner if lead else None, hours)
    callback = callback_at(now, hours).astimezone(ZoneInfo(cfg.dealer.timezone)).strftime("%Y-%m-%d %H:%M")
    if args.json:
        print_json({"number": phone.e164, "lead_id": lead.id if lead else None, "owner": lead.owner if lead else None,
                    "route": route.kind.value, "ring_owner_s": cfg.inbound.owner_ring_s,
                    "queue_wait_s": cfg.inbound.queue_wait_s, "callback_at": callback})  # fmt: skip
        return 0
    lang = cfg.ui.language
    if lead is None:
        print(translate("inbound.lead.unknown", lang))
    else:
        print(translate("inbound.lead.known", lang, id=lead.id, name=lead.name, owner=lead.owner or "—"))
    ring = f"{cfg.inbound.owner_ring_s:g}"
    print(translate(f"inbound.route.{route.kind.value}", lang, owner=route.owner, ring=ring, callback=callback))
    return 0


async def run_agents(cfg: Settings, args: argparse.Namespace) -> int:
    """Change the queue's members over AMI, one agent at a time; the first refusal stops with its reason."""
    async with AmiClient(cfg.pbx) as client:
        queue = InboundQueue(client)
        try:
            for agent in args.agents:
                match args.action:
                    case "add":
                        await queue.add(agent)
                    case "remove":
                        await queue.remove(agent)
                    case "pause" | "unpause":
                        await queue.pause(agent, args.action == "pause")
        except (AmiError, InboundError) as exc:
            raise CliError(str(exc)) from None
    print(translate("inbound.agents.done", cfg.ui.language, action=args.action, agents=" ".join(args.agents)))
    return 0
