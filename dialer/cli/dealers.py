"""Whose rows a reporting or listing command reads: ``--dealer CODE`` (default: this node's dealer) or
``--group``.

One place for the options and their meaning, so every command that reports (KPIs, the daily and weekly
sheets, funnels, the DOSS sheet) or lists (campaigns, due leads and owners, the suppression list, the
audit log) answers the same question the same way as the console's dealer filter; a list of several
dealers' rows names each row's dealer (:func:`dealer_cell`).
"""

from __future__ import annotations

import argparse

from dialer.app import App
from dialer.cli import CliError
from dialer.domain.access.dealers import EVERY_DEALER, AmbiguousName, Dealer, DealerScope, scope_of_name
from dialer.i18n import translate


def add_dealer_options(parser: argparse.ArgumentParser) -> None:
    """``--dealer CODE`` or ``--group``, exclusive."""
    whose = parser.add_mutually_exclusive_group()
    whose.add_argument("--dealer", metavar="CODE", help="this dealer's rows (default: this node's dealer)")
    whose.add_argument("--group", action="store_true", help="every dealer's rows together (the group's)")


async def chosen_dealers(app: App, args: argparse.Namespace) -> DealerScope:
    """The scope the options chose; an unknown code is a :class:`CliError` naming it."""
    if args.group:
        return EVERY_DEALER
    return DealerScope.of((await dealer_named(app, args.dealer)).id)


async def agent_scope(app: App, args: argparse.Namespace) -> tuple[DealerScope, str | None]:
    """The scope the options chose and the plain agent of ``--agent`` (``pudong/8001`` with ``--group``
    narrows to that dealer; a plain agent with ``--group`` in a group of several dealers is a
    :class:`CliError` saying what to write: docs/store.md "Dealers")."""
    dealers = await chosen_dealers(app, args)
    if not args.agent:
        return dealers, None
    try:
        return scope_of_name(args.agent, dealers, await app.dealers.all())
    except AmbiguousName as exc:
        lang = app.settings.ui.language
        if exc.unseen is None:
            raise CliError(translate("cli.dealers.agent_ambiguous", lang, name=exc.name, example=exc.example)) from None
        raise CliError(translate("cli.dealers.agent_unseen", lang, name=exc.name, code=exc.unseen)) from None


async def dealer_named(app: App, code: str | None) -> Dealer:
    """The dealer ``--dealer CODE`` names (None: this node's); an unknown code is a :class:`CliError`."""
    dealer = app.dealer if code is None else await app.dealers.by_code(code)
    if dealer is None:
        raise CliError(translate("cli.dealers.unknown", app.settings.ui.language, code=code))
    return dealer


async def dealer_codes(app: App) -> dict[int, str]:
    """Every dealer's id to its code: the ``dealer`` of a list's JSON rows and its dealer column."""
    return {d.id: d.code for d in await app.dealers.all()}


def dealer_cell(app: App, codes: dict[int, str], dealer_id: int | None) -> str:
    """What a list of several dealers' rows (``--group``) shows in a row's dealer column: the code, or for
    a group-level row (no dealer), the group."""
    if dealer_id is None:
        return translate("cli.dealers.group", app.settings.ui.language)
    return codes.get(dealer_id, str(dealer_id))


def dealer_header(app: App) -> str:
    """The dealer column's heading."""
    return translate("cli.dealers.col", app.settings.ui.language)
