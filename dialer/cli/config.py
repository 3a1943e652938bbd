"""``dialer config show | check``: the effective configuration, and whether it is valid."""

from __future__ import annotations

import argparse
import dataclasses

from dialer.settings import Settings
from dialer.settings_toml import to_toml


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="show the effective configuration (secrets hidden) or check it")
    actions = p.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the configuration in effect as TOML")
    show.add_argument("--defaults", action="store_true", help="print the built-in defaults (the sample config)")
    show.set_defaults(handler=_show)
    check = actions.add_parser("check", help="load and validate the configuration; exit 0 when it is valid")
    check.set_defaults(handler=_check)


def _show(cfg: Settings, args: argparse.Namespace) -> int:
    shown = Settings() if args.defaults else _hide_secrets(cfg)
    print(to_toml(shown), end="")
    return 0


def _check(cfg: Settings, args: argparse.Namespace) -> int:
    # Loading already validated it (errors exit before we get here).
    print("配置有效 (configuration is valid)" if cfg.ui.language == "zh-CN" else "configuration is valid")
    return 0


def _hide_secrets(cfg: Settings) -> Settings:
    return dataclasses.replace(
        cfg,
        pbx=dataclasses.replace(cfg.pbx, ami_secret="***"),
        doss=dataclasses.replace(cfg.doss, token="***" if cfg.doss.token else ""),
    )
