"""``dialer lab up | down | status``: the private Asterisk + SIPp lab on loopback."""

from __future__ import annotations

import argparse

from dialer.cli import CliError
from dialer.i18n import translate
from dialer.lab.errors import LabError
from dialer.lab.lab import Lab, LabStatus
from dialer.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lab`` and its three actions to the ``dialer`` command."""
    parser = sub.add_parser("lab", help="实验环境：本机 Asterisk 与 SIPp 模拟方 (the lab)")
    actions = parser.add_subparsers(dest="lab_action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="启动实验环境 (start the lab)")
    up.add_argument(
        "--no-customers",
        action="store_true",
        help="不启动客户模拟，运营商端口留给外部模拟器 (leave the carrier port free)",
    )
    up.add_argument(
        "--no-agents",
        action="store_true",
        help="不启动坐席话机模拟，坐席账号留给外部软电话注册 (leave the agents' accounts to softphones)",
    )
    up.set_defaults(handler=_up)
    down = actions.add_parser("down", help="停止实验环境 (stop the lab)")
    down.set_defaults(handler=_down)
    status = actions.add_parser("status", help="查看实验环境 (show the lab)")
    status.add_argument("--json", action="store_true", help="以 JSON 输出 (machine-readable)")
    status.set_defaults(handler=_status)


def _t(cfg: Settings, key: str, **params: object) -> str:
    return translate(f"cli.lab.{key}", cfg.ui.language, **params)


def _up(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        result = Lab(cfg).up(customers=not args.no_customers, agents=not args.no_agents)
    except LabError as exc:
        raise CliError(_t(cfg, "up.failed", error=exc)) from None
    print(_t(cfg, "up.already" if result.already else "up.started"))
    _print(cfg, result)
    return 0


def _down(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        result = Lab(cfg).down()
    except LabError as exc:
        raise CliError(_t(cfg, "down.failed", error=exc)) from None
    if not result.processes:
        print(_t(cfg, "down.not_running"))
        return 0
    left = [p for p in result.processes if p.alive]
    if left:
        raise CliError(_t(cfg, "down.left", processes=", ".join(f"{p.name} (PID {p.pid})" for p in left)))
    print(_t(cfg, "down.stopped", count=len(result.processes)))
    return 0


def _status(cfg: Settings, args: argparse.Namespace) -> int:
    try:
        result = Lab(cfg).status()
    except LabError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(result.to_json())
    else:
        print(_t(cfg, "status.running" if result.up else "status.not_running"))
        _print(cfg, result)
    # A partly dead lab is worth a non-zero exit for scripts that only look at the status code.
    return 0 if result.up and all(p.alive for p in result.processes) else 1


def _print(cfg: Settings, status: LabStatus) -> None:
    for key, port in status.ports.items():
        print(f"  {_t(cfg, f'ports.{key}')}: 127.0.0.1:{port}")
    for p in status.processes:
        state = _t(cfg, "alive" if p.alive else "dead")
        print(f"  {_t(cfg, f'proc.{p.name}')}: PID {p.pid}, {_t(cfg, 'port')} {p.port}, {state}")
    if status.phones:
        # Passwords only in --json (for scripts and softphone set-up), not on every screen.
        print(_t(cfg, "phones", sip=status.sip, names=", ".join(p.username for p in status.phones)))
