"""Watching the recordings disk: a full disk is reported loudly, and calls go on.

``DiskWatch.check()`` is cheap (one ``statvfs``); the application runs it every
``recording.disk_check_interval_s`` and the wallboard shows the last :class:`DiskStatus`.
Whether a new call is recorded when the disk is full is dealer policy
(``recording.disk_full_policy``): a call is never refused for lack of disk.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from dialer.clock import Clock
from dialer.domain.recording.model import DiskLevel, DiskStatus
from dialer.logs import get_logger
from dialer.settings import RecordingSettings

log = get_logger(__name__)

_MB = 1024 * 1024


class Usage(NamedTuple):
    """What :func:`shutil.disk_usage` returns; tests hand in their own."""

    total: int
    used: int
    free: int


def disk_level(free_mb: int, settings: RecordingSettings) -> DiskLevel:
    """Classify free space against the configured thresholds."""
    if free_mb < settings.min_free_mb:
        return DiskLevel.FULL
    if free_mb < settings.low_free_mb:
        return DiskLevel.LOW
    return DiskLevel.OK


class DiskWatch:
    """Free-space checks of the recordings folder and the keep/stop decision for new recordings."""

    def __init__(
        self,
        settings: RecordingSettings,
        root: Path,
        clock: Clock,
        usage: Callable[[Path], Usage] = lambda p: Usage(*shutil.disk_usage(p)),
    ) -> None:
        self._settings = settings
        self._root = root
        self._clock = clock
        self._usage = usage
        self._last: DiskStatus | None = None

    @property
    def last(self) -> DiskStatus | None:
        """The most recent check, for the wallboard; None before the first."""
        return self._last

    def check(self) -> DiskStatus:
        """Measure now, log by level (an error on every check while full), remember the result."""
        try:
            usage = self._usage(self._root)
        except OSError as exc:
            # An unreadable folder records nothing either: report it as full, loudly.
            log.error("recording.disk_unreadable", path=str(self._root), error=str(exc))
            usage = Usage(0, 0, 0)
        free_mb, total_mb = usage.free // _MB, usage.total // _MB
        level = disk_level(free_mb, self._settings)
        allowed = level is not DiskLevel.FULL or self._settings.disk_full_policy == "keep_recording"
        status = DiskStatus(str(self._root), free_mb, total_mb, level, allowed, self._clock.now())
        previous = self._last.level if self._last else DiskLevel.OK
        fields = {"path": str(self._root), "free_mb": free_mb, "min_free_mb": self._settings.min_free_mb}
        if level is DiskLevel.FULL:
            log.error(
                "recording.disk_full", recording_allowed=allowed, policy=self._settings.disk_full_policy, **fields
            )
        elif level is DiskLevel.LOW and previous is not DiskLevel.LOW:
            log.warning("recording.disk_low", low_free_mb=self._settings.low_free_mb, **fields)
        elif level is DiskLevel.OK and previous is not DiskLevel.OK:
            log.info("recording.disk_recovered", **fields)
        self._last = status
        return status

    def recording_allowed(self) -> bool:
        """Should the next call be recorded? Uses the last check (checks once if there was none)."""
        return (self._last or self.check()).recording_allowed

    async def run(self) -> None:
        """Check every ``disk_check_interval_s`` for as long as the application lives."""
        while True:
            self.check()
            await asyncio.sleep(self._settings.disk_check_interval_s)
