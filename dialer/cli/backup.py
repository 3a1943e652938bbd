"""``dialer backup``, ``dialer backup verify`` and ``dialer restore`` (docs/backup.md).

A backup is made through the App's backup service while the service may be running; verify and
restore work on a backup folder alone, with no store open. Restoring onto the configured store
holds the store's PBX lock, so it is refused while ``dialer web`` runs.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from dialer.app import open_store
from dialer.backup.service import restore, verify
from dialer.cli import CliError
from dialer.domain.audit.model import AuditAction, cli_actor
from dialer.domain.backup.manifest import BackupError, RecordingsMode
from dialer.i18n import translate
from dialer.settings import Settings
from dialer.store.errors import StoreError
from dialer.store.process_lock import pbx_lock

# Progress is printed every this many recording files (and at the last one).
PROGRESS_EVERY = 100
_MB = 1024 * 1024


def _t(lang: str, key: str, **params: object) -> str:
    return translate(f"cli.backup.{key}", lang, **params)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer backup`` (with ``verify``) and ``dialer restore`` to the CLI."""
    p = sub.add_parser("backup", help="备份数据库与录音 (back up the store and the recordings)")
    p.add_argument("--to", help="make the backup folder under this directory (default from [backup] dir)")
    p.set_defaults(handler=run_backup)
    cmds = p.add_subparsers(dest="backup_command", metavar="ACTION")
    v = cmds.add_parser("verify", help="check a backup folder: every checksum, and the store copy's integrity")
    v.add_argument("folder", metavar="DIR")
    v.set_defaults(handler=run_verify)

    r = sub.add_parser("restore", help="从备份恢复 (restore a backup: store and recordings)")
    r.add_argument("folder", metavar="DIR", help="the backup folder (YYYYMMDD-HHMMSS)")
    r.add_argument("--into", metavar="FOLDER", help="restore into this new folder instead of the configured paths")
    r.add_argument("--force", action="store_true", help="replace an existing store and differing recordings")
    r.set_defaults(handler=run_restore)


async def run_backup(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            print(_t(lang, "progress", done=done, total=total), file=sys.stderr, flush=True)

    try:
        async with open_store(cfg, args.clock) as app:
            made = await app.backup.create(Path(args.to) if args.to else None, progress)
            # A copy of everything, taken by a person: an export (the nightly one is the service's own).
            await app.audit.record(
                cli_actor(getpass.getuser()), AuditAction.EXPORT, "backup", {"folder": str(made.folder)},
                dealer_id=None,  # the whole store: the group's
            )  # fmt: skip
    except (BackupError, StoreError, OSError) as exc:
        raise CliError(_t(lang, "failed", reason=str(exc))) from None
    m = made.manifest
    print(_t(lang, "made", folder=made.folder))
    print(_t(lang, "store", mb=f"{m.store.size / _MB:.1f}", version=m.store.schema_version,
             rows=sum(m.store.tables.values()), tables=len(m.store.tables)))  # fmt: skip
    copied = m.recordings_mode is RecordingsMode.COPY
    print(_t(lang, "recordings.copy" if copied else "recordings.list", files=len(m.recordings),
             mb=f"{m.recordings_bytes / _MB:.1f}"))  # fmt: skip
    if m.missing:
        print(_t(lang, "missing", count=len(m.missing)))
    if made.removed:
        print(_t(lang, "removed", names=", ".join(made.removed)))
    return 0


async def run_verify(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language
    verified = await verify(Path(args.folder))
    if verified.problems or verified.manifest is None:
        print(_t(lang, "verify.bad", folder=verified.folder, count=len(verified.problems)))
        for problem in verified.problems:
            print(f"  {problem}")
        return 1
    print(_t(lang, "verify.good", folder=verified.folder, files=len(verified.manifest.recordings)))
    return 0


async def run_restore(cfg: Settings, args: argparse.Namespace) -> int:
    lang = cfg.ui.language
    folder = Path(args.folder)
    try:
        if args.into:
            into = Path(args.into)
            store_name = Path(cfg.store.path).name
            done = await restore(folder, into / store_name, into / "recordings", force=args.force)
        elif cfg.store.url:
            raise CliError(
                _t(lang, "refused", reason="[store] url is a PostgreSQL database: restore it with pg_restore")
            )
        else:
            with pbx_lock(cfg):  # refused while `dialer web` (or a campaign run) has the store
                done = await restore(folder, cfg.path(cfg.store.path), cfg.path(cfg.recording.dir), force=args.force)
    except (BackupError, StoreError, OSError) as exc:
        raise CliError(_t(lang, "refused", reason=str(exc))) from None
    print(_t(lang, "restored", store=done.store, recordings=done.recordings, files=done.files,
             unchanged=done.unchanged))  # fmt: skip
    if not done.recordings_copied:
        print(_t(lang, "listed_only"))
    if args.into:
        print(_t(lang, "use_it", store=done.store, recordings=done.recordings))
    return 0
