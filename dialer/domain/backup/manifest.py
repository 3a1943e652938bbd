"""What a backup holds, as ``manifest.json`` says it: the store copy and every recording file.

The manifest is the one thing a restore trusts, and it is read from a folder that may have been
carried around on a USB disk: every field is checked on reading, and every path in it must stay
inside the folder it names (no absolute path, no ``..``, no odd characters), so a tampered manifest
can make a restore refuse, never write outside its target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

FORMAT = 1
"""The manifest's own format version; a newer one is refused rather than half understood."""

MANIFEST_NAME = "manifest.json"
STORE_NAME = "dialer.sqlite3"
"""The store copy's name inside a backup folder."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_.\-/]+$")


class BackupError(Exception):
    """A backup cannot be made, verified or restored; the message names the file and what is wrong."""


class RecordingsMode(StrEnum):
    """``[backup] recordings``: what a backup does with the recording files."""

    COPY = "copy"  # new or changed files are copied into the shared content-addressed folder
    LIST = "list"  # only listed (path, size, SHA-256): the files are backed up by other means


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One recording file: its path relative to the recordings folder, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """The store copy: its checksum and size, schema version and row count per table."""

    size: int
    sha256: str
    schema_version: int
    tables: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything a backup folder holds; ``missing`` lists registered recordings whose file was gone."""

    created_at: datetime
    store: StoreEntry
    recordings_mode: RecordingsMode
    recordings: tuple[FileEntry, ...]
    missing: tuple[str, ...] = ()
    format: int = field(default=FORMAT)

    @property
    def recordings_bytes(self) -> int:
        return sum(entry.size for entry in self.recordings)

    def to_json(self) -> str:
        data = {
            "format": self.format,
            "created_at": self.created_at.isoformat(),
            "store": {
                "file": STORE_NAME,
                "size": self.store.size,
                "sha256": self.store.sha256,
                "schema_version": self.store.schema_version,
                "tables": dict(sorted(self.store.tables.items())),
            },
            "recordings": {
                "mode": self.recordings_mode.value,
                "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in self.recordings],
                "missing": list(self.missing),
            },
        }
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Manifest:
        """Parse and check a manifest; :class:`BackupError` naming ``where`` and the bad field."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackupError(f"{where}: not valid JSON: {exc}") from None
        try:
            return _parse(data, where)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"{where}: malformed manifest: {exc!r}") from None


def check_path(path: str, where: str) -> tuple[str, ...]:
    """The parts of a manifest's relative path, or :class:`BackupError` when it could leave its folder."""
    parts = tuple(path.split("/"))
    if not _SAFE_PATH.match(path) or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BackupError(f"{where}: unsafe recording path {path!r} (must be relative, inside the recordings folder)")
    return parts


def check_sha256(value: str, where: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise BackupError(f"{where}: {value!r} is not a SHA-256 in hex")
    return value


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} = {value!r}: expected a whole number >= 0")
    return value


def _parse(data: Any, where: str) -> Manifest:
    if data.get("format") != FORMAT:
        raise BackupError(f"{where}: manifest format {data.get('format')!r}, this dialer reads format {FORMAT}")
    created_at = datetime.fromisoformat(data["created_at"])
    if created_at.tzinfo is None:
        raise ValueError("created_at has no timezone")
    store = data["store"]
    if store["file"] != STORE_NAME:
        raise ValueError(f"store.file = {store['file']!r}: expected {STORE_NAME!r}")
    tables = {str(name): _count(n, f"store.tables.{name}") for name, n in dict(store["tables"]).items()}
    entry = StoreEntry(
        size=_count(store["size"], "store.size"),
        sha256=check_sha256(store["sha256"], where),
        schema_version=_count(store["schema_version"], "store.schema_version"),
        tables=tables,
    )
    recordings = data["recordings"]
    mode = RecordingsMode(recordings["mode"])
    files = []
    seen: set[str] = set()
    for item in recordings["files"]:
        path = str(item["path"])
        check_path(path, where)
        if path in seen:
            raise ValueError(f"recording {path!r} is listed twice")
        seen.add(path)
        files.append(FileEntry(path, _count(item["size"], f"size of {path}"), check_sha256(item["sha256"], where)))
    missing = tuple(str(p) for p in recordings.get("missing", []))
    for path in missing:
        check_path(path, where)
    return Manifest(created_at, entry, mode, tuple(files), missing)
