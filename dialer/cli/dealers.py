"""Whose rows a reporting command reads: ``--dealer CODE`` (default: this node's dealer) or ``--group``.

One place for the options and their meaning, so every command that reports (KPIs, the daily and weekly
sheets, funnels, the DOSS sheet) answers the same question the same way as the console's dealer filter.
"""

from __future__ import annotations

import argparse

from dialer.app import App
from dialer.cli import CliError
from dialer.domain.access.dealers import EVERY_DEALER, Dealer, DealerScope
from dialer.i18n import translate


def add_dealer_options(parser: argparse.ArgumentParser) -> None:
    """``--dealer CODE`` or ``--group``, exclusive."""
    whose = parser.add_mutually_exclusive_group()
    whose.add_argument("--dealer", metavar="CODE", help="this dealer's figures (default: this node's dealer)")
    whose.add_argument("--group", action="store_true", help="every dealer's figures together (the group's)")


async def chosen_dealers(app: App, args: argparse.Namespace) -> DealerScope:
    """The scope the options chose; an unknown code is a :class:`CliError` naming it."""
    if args.group:
        return EVERY_DEALER
    return DealerScope.of((await dealer_named(app, args.dealer)).id)


async def dealer_named(app: App, code: str | None) -> Dealer:
    """The dealer ``--dealer CODE`` names (None: this node's); an unknown code is a :class:`CliError`."""
    dealer = app.dealer if code is None else await app.dealers.by_code(code)
    if dealer is None:
        raise CliError(translate("cli.dealers.unknown", app.settings.ui.language, code=code))
    return dealer
