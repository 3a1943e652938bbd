"""The registry record of a recording and the recordings disk's status: plain data, no I/O.

The access policy and the web console take these records, so they live apart from the
store that reads and writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.calls.outcome import Direction
from dialer.timestamps import to_db_or_none


class AudioFormat(StrEnum):
    """How a recording is stored: the WAV MixMonitor wrote, or its lossless FLAC copy."""

    WAV = "wav"
    FLAC = "flac"

    @property
    def media_type(self) -> str:
        """The Content-Type a download of this format is served with."""
        return {AudioFormat.WAV: "audio/wav", AudioFormat.FLAC: "audio/flac"}[self]


class AuditAction(StrEnum):
    """What happened to a recording, as the audit trail records it."""

    REGISTERED = "registered"
    COMPRESSED = "compressed"
    DELETED = "deleted"
    MISSING = "missing"  # reconcile found a row whose file is gone


@dataclass(frozen=True, slots=True)
class Recording:
    """One registered recording: whose call it was, where the file is, and proof of its content.

    ``path`` is relative to the recordings folder; ``deleted_at`` is set once retention
    (or an administrator) removed the file, while the row stays as the record that it existed.
    """

    id: int
    call_id: str
    lead_id: int | None
    campaign_id: int | None
    agent: str | None
    direction: Direction
    path: str
    format: AudioFormat
    started_at: datetime
    duration_s: float
    size_bytes: int
    sha256: str
    wav_sha256: str
    registered_at: datetime
    deleted_at: datetime | None = None
    delete_reason: str | None = None
    number: str | None = None  # the customer's number, joined from the attempt for evidence searches
    dealer_id: int = MAIN_DEALER_ID  # the call's (its lead's) dealer's

    @property
    def deleted(self) -> bool:
        """The file is gone (retention, an administrator, or found missing); the row remains."""
        return self.deleted_at is not None

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``, the web console): enums as values, times as UTC ISO-8601."""
        return {
            "id": self.id,
            "call_id": self.call_id,
            "lead_id": self.lead_id,
            "campaign_id": self.campaign_id,
            "agent": self.agent,
            "direction": self.direction.value,
            "number": self.number,
            "path": self.path,
            "format": self.format.value,
            "started_at": to_db_or_none(self.started_at),
            "duration_s": self.duration_s,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "wav_sha256": self.wav_sha256,
            "registered_at": to_db_or_none(self.registered_at),
            "deleted_at": to_db_or_none(self.deleted_at),
            "delete_reason": self.delete_reason,
        }


class DiskLevel(StrEnum):
    """How the recordings disk is doing, as the wallboard shows it."""

    OK = "ok"
    LOW = "low"  # below recording.low_free_mb: warn, still recording
    FULL = "full"  # below recording.min_free_mb: error; policy decides about new recordings


@dataclass(frozen=True, slots=True)
class DiskStatus:
    """The outcome of one free-space check; ``recording_allowed`` is what new calls should do."""

    path: str
    free_mb: int
    total_mb: int
    level: DiskLevel
    recording_allowed: bool
    checked_at: datetime

    def to_json_dict(self) -> dict[str, Any]:
        """For the wallboard and ``dialer recordings status --json``."""
        return {
            "path": self.path,
            "free_mb": self.free_mb,
            "total_mb": self.total_mb,
            "level": self.level.value,
            "recording_allowed": self.recording_allowed,
            "checked_at": to_db_or_none(self.checked_at),
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a recording's history: what happened, who did it, when, and the details."""

    recording_id: int | None
    action: AuditAction
    actor: str
    at: datetime
    detail: Mapping[str, Any]
