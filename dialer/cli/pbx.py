"""``dialer pbx render OUTDIR``: the PBX configuration for a dealer's own Asterisk.

Written from ``[site]`` (the PBX's network), ``[trunk]`` (the carrier) and the phone accounts
(``dialer phones``); nothing points at loopback unless the settings say so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dialer.app import open_store
from dialer.cli import CliError
from dialer.domain.access.dealers import DealerScope
from dialer.domain.pbx.site import render_problems, site_from_settings, trunk_from_settings
from dialer.i18n import translate
from dialer.lab.errors import LabError
from dialer.lab.pjsip import SipPlan
from dialer.lab.render import LOOPBACK_PERMIT, PBX_FILES, PbxTarget, render
from dialer.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pbx render`` to the ``dialer`` command."""
    parser = sub.add_parser("pbx", help="电话交换机配置 (PBX configuration)")
    actions = parser.add_subparsers(dest="pbx_action", metavar="ACTION", required=True)
    render_cmd = actions.add_parser(
        "render", help="按 [site]、[trunk] 和话机账号生成 Asterisk 配置文件 (render the Asterisk configs)"
    )
    render_cmd.add_argument("outdir", type=Path, help="输出目录 (output folder)")
    render_cmd.add_argument(
        "--sounds-dir",
        type=Path,
        help="交换机上放提示音的绝对路径，默认 OUTDIR/sounds (where the PBX will find the prompts)",
    )
    render_cmd.add_argument(
        "--ami-permit",
        default=LOOPBACK_PERMIT,
        help=f"允许连接 AMI 的地址/掩码，默认 {LOOPBACK_PERMIT} (who may connect to AMI)",
    )
    render_cmd.set_defaults(handler=_render)


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(f"cli.pbx.{key}", cfg.ui.language, **params)


async def _render(cfg: Settings, args: argparse.Namespace) -> int:
    outdir = args.outdir.resolve()
    sounds = args.sounds_dir or outdir / "sounds"
    if not sounds.is_absolute():
        raise CliError(_t(cfg, "relative", path=sounds))
    problems = render_problems(cfg.site, cfg.trunk)
    if problems:
        raise CliError(_t(cfg, "not_set_up", problems="; ".join(problems)))
    async with open_store(cfg, args.clock) as app:
        phones = tuple(await app.phones.accounts(DealerScope.of(app.dealer.id)))  # its PBX: its dealer's phones
    plan = SipPlan(site_from_settings(cfg.site), trunk_from_settings(cfg.trunk, cfg.pbx.carrier_endpoint), phones)
    try:
        written = render(
            cfg, PbxTarget(etc_dir=outdir, sounds_dir=sounds, sip=plan, ami_permit=args.ami_permit), PBX_FILES
        )
    except (LabError, OSError) as exc:
        raise CliError(_t(cfg, "failed", error=exc)) from None
    print(_t(cfg, "written", count=len(written), outdir=outdir))
    for path in written:
        print(f"  {path}")
    if not phones:
        print(_t(cfg, "no_phones"))
    print(_t(cfg, "next"))
    return 0
