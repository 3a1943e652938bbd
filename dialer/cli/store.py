"""``dialer store copy``: move a dealer's SQLite store into the group's PostgreSQL database (docs/store.md,
"Moving a dealer in").

Run it as often as needed: the first run copies everything, a later one (on switch-over day) only what is
new or changed since, and a run with nothing new writes nothing. Every run ends with a table of the
tables, the dealer's rows on both sides and whether their checksums agree; it exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from dialer.backup.dealer_copy import CopyError, copy_dealer
from dialer.cli import CliError
from dialer.cli.output import print_table
from dialer.domain.audit.model import cli_actor
from dialer.i18n import translate
from dialer.settings import Settings
from dialer.store.errors import StoreError


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.store.{key}", lang, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer store copy`` to the CLI."""
    p = sub.add_parser("store", help="数据库：迁入经销商 (the store: move a dealer into the group database)")
    cmds = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    c = cmds.add_parser(
        "copy",
        help="copy a dealer's SQLite store into the group's PostgreSQL database (again: only what is new)",
        description="Copy a dealer's SQLite store into the group's PostgreSQL database, as that dealer. The "
        "source is only read (through a private copy); rows get the group's ids and the copy remembers them, "
        "so running it again copies only what is new or changed. Prints, per table, the dealer's rows on both "
        "sides and whether their checksums agree; exits 1 on any difference.",
    )
    c.add_argument("--from", dest="source", required=True, metavar="sqlite:///PATH",
                   help="the dealer's store: sqlite:///var/dialer.sqlite3 or a file path")  # fmt: skip
    c.add_argument("--to", dest="target", required=True, metavar="postgresql://...",
                   help="the group database (a password is better put in PGPASSWORD or ~/.pgpass)")  # fmt: skip
    c.add_argument("--dealer", required=True, metavar="NAME", help="the dealer's code in the group (e.g. pudong)")
    c.set_defaults(handler=run_copy)


def source_path(text: str) -> Path:
    """The file of ``--from``: a ``sqlite:///`` URL (``sqlite:////abs`` for an absolute path) or a path."""
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    if "://" in text:
        raise CopyError(f"--from {text}: the dealer's store is a SQLite file (sqlite:///path or a path)")
    return Path(text)


async def run_copy(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language

    def progress(table: str, done: int, total: int) -> None:
        print(_t(lang, "progress", table=table, done=done, total=total), file=sys.stderr, flush=True)

    try:
        copied = await copy_dealer(
            source_path(args.source),
            args.target,
            args.dealer,
            actor=cli_actor(getpass.getuser()),
            clock=args.clock,
            progress=progress,
        )
    except (StoreError, OSError) as exc:
        raise CliError(_t(lang, "failed", reason=str(exc))) from None
    yes, no = _t(lang, "yes"), _t(lang, "no")
    print_table(
        [_t(lang, h) for h in ("table", "source", "target", "new", "updated", "removed", "checksum")],
        [(t.table, t.source_rows, t.target_rows, t.inserted, t.updated, t.deleted, yes if t.ok else no)
         for t in copied.tables],
    )  # fmt: skip
    for t in copied.tables:
        if t.covered:
            print(_t(lang, "covered", table=t.table, count=t.covered))
    chain = copied.chain
    print(_t(lang, "chain.ok" if chain.broken is None else "chain.broken", rows=chain.rows,
             id=chain.broken.id if chain.broken else chain.last_id))  # fmt: skip
    if not copied.ok:
        bad = ", ".join(t.table for t in copied.tables if not t.ok)
        print(_t(lang, "differs", tables=bad or "audit_log"), file=sys.stderr)
        return 1
    print(_t(lang, "done", dealer=args.dealer, written=copied.written))
    return 0
