"""When backups are made, what a backup folder is called and which old ones go.

A backup folder is named by its local time of creation (dealer timezone), ``YYYYMMDD-HHMMSS``, so
names sort by age and a person finds "last night's" one at a glance. Retention only ever considers
folders with exactly that name shape: anything else in the backup directory (the shared recordings
folder, a file a person put there) is never removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.domain.backup.manifest import RecordingsMode
from dialer.settings import BackupSettings

FOLDER_FORMAT = "%Y%m%d-%H%M%S"
_FOLDER_NAME = re.compile(r"^\d{8}-\d{6}$")


def settings_problems(backup: BackupSettings) -> list[str]:
    """What is wrong in ``[backup]``."""
    problems: list[str] = []
    if not backup.dir:
        problems.append("backup.dir is empty: name the folder backups go to")
    if backup.keep < 1:
        problems.append(f"backup.keep = {backup.keep}: must be at least 1")
    if backup.time and parse_time(backup.time) is None:
        problems.append(f"backup.time = {backup.time!r}: expected HH:MM (dealer time) or '' for no scheduled backup")
    if backup.recordings not in tuple(RecordingsMode):
        problems.append(f"backup.recordings = {backup.recordings!r}: must be 'copy' or 'list'")
    return problems


def parse_time(text: str) -> time | None:
    """``HH:MM`` as a time of day, or None when it is not one."""
    hh, sep, mm = text.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and len(mm) == 2 and int(hh) < 24 and int(mm) < 60):
        return None
    return time(int(hh), int(mm))


def next_run(after: datetime, at: time, timezone: str) -> datetime:
    """The first instant strictly after ``after`` whose local time (``timezone``) is ``at``."""
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz)
    day = local.date()
    while True:
        due = datetime.combine(day, at, tzinfo=tz)
        if due > local:
            return due
        day += timedelta(days=1)


def folder_name(now: datetime, timezone: str) -> str:
    """The name of a backup folder made at ``now``."""
    return now.astimezone(ZoneInfo(timezone)).strftime(FOLDER_FORMAT)


def is_backup_folder(name: str) -> bool:
    return bool(_FOLDER_NAME.match(name))


def to_remove(names: Iterable[str], keep: int) -> list[str]:
    """The backup folders beyond the ``keep`` newest, oldest first; other names are never listed."""
    ours = sorted(name for name in names if is_backup_folder(name))
    return ours[: max(0, len(ours) - keep)]
