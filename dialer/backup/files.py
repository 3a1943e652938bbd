"""Checksummed file copies: the recordings' side of a backup and a restore.

A backup folder is self-contained: ``<backup>/recordings/<path>`` mirrors the recordings folder.
The bytes live once, in the content-addressed pool ``<backup dir>/.pool/<sha[:2]>/<sha256>``, and
every backup that lists an unchanged file holds a hard link to the same pool file, so a nightly
backup copies only new or changed audio, and removing an old backup frees exactly the audio no
other backup holds (a pool file with one link left). Where the disk cannot hard-link (a FAT USB
disk), the file is copied instead: the backup stays correct, only bigger.

Every copy hashes the bytes it writes, so the checksum in the manifest is the one of the bytes in
the backup, even if the source file changed meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from dialer.domain.backup.manifest import BackupError

POOL = ".pool"
_CHUNK = 1 << 20


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def copy_digest(source: Path, target: Path) -> tuple[int, str]:
    """Copy ``source`` to ``target`` (written beside it, then renamed in place); size and SHA-256 of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open("rb") as src, partial.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return size, digest.hexdigest()


def pooled(pool: Path, sha256: str) -> Path:
    return pool / sha256[:2] / sha256


def keep_in_pool(source: Path, pool: Path, mirror: Path) -> tuple[int, str]:
    """Put ``source`` into the pool (unless an identical file is there) and link it at ``mirror``.

    Size and SHA-256 of the file now at ``mirror``.
    """
    size, sha = file_digest(source)
    stored = pooled(pool, sha)
    if not (stored.is_file() and stored.stat().st_size == size):
        # New or changed audio: the copy's own digest names it (the source may have changed since).
        incoming = pool / "incoming" / sha
        size, sha = copy_digest(source, incoming)
        stored = pooled(pool, sha)
        stored.parent.mkdir(parents=True, exist_ok=True)
        os.replace(incoming, stored)
    mirror.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(stored, mirror)
    except OSError:
        shutil.copyfile(stored, mirror)  # no hard links on this disk: a plain (bigger) copy
    return size, sha


def prune_pool(pool: Path) -> int:
    """Remove pool files that no backup links to any more (one link left); how many went."""
    removed = 0
    if not pool.is_dir():
        return 0
    for stored in pool.glob("*/*"):
        if stored.is_file() and stored.stat().st_nlink == 1:
            stored.unlink()
            removed += 1
    return removed


def check_file(path: Path, size: int, sha256: str, what: str) -> str | None:
    """None when ``path`` has this size and checksum, else what is wrong, naming the file."""
    if not path.is_file():
        return f"{what} {path}: missing"
    found_size, found_sha = file_digest(path)
    if found_size != size:
        return f"{what} {path}: {found_size} bytes, the manifest says {size}"
    if found_sha != sha256:
        return f"{what} {path}: SHA-256 {found_sha} does not match the manifest's {sha256}"
    return None


def remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise BackupError(f"cannot remove {path}: {exc}") from exc
