"""One dialer process per store talks to the PBX: an exclusive lock beside the store file.

Two processes with an AMI link on one store would each act on the same calls: opening the
link reconciles calls in flight (``CallService.recover`` adopts the live ones and closes the
others as ``unknown``), both would route the same inbound callers and run the same campaign's
runner, claiming and dialling leads twice. :func:`open_app <dialer.app.open_app>` therefore
holds ``<store>.pbx.lock`` (``flock``: released by the kernel when the process dies, so a crash
never leaves it stale) for as long as its link is open. Commands that only read or write the
store (imports, reports, ``dialer web --no-pbx``) do not take it.

On PostgreSQL (``[store] url``) the same rule holds per database: :func:`node_lock` takes a session
advisory lock instead of the file (held by a connection of its own, so released by the server the
moment the process dies). One node per database is the limit until per-PBX leases (issue #16 item 2).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from dialer.settings import Settings, without_password
from dialer.store import postgres
from dialer.store.errors import StoreError


class StoreInUse(StoreError):
    """Another live dialer process holds this store's PBX lock (the message names its pid)."""


@contextlib.contextmanager
def pbx_lock(settings: Settings) -> Iterator[None]:
    """Hold ``<store>.pbx.lock`` for the block; :class:`StoreInUse` when another live process holds it."""
    raw = str(settings.store.path)
    if raw == ":memory:" or raw.startswith("file:"):
        yield  # a private in-memory store: no other process can reach it
        return
    store = settings.path(raw)
    lock = Path(f"{store}.pbx.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise StoreInUse(
                f"store {store} is in use by another live dialer process (pid {holder}, lock {lock}): "
                "only one process may talk to the PBX for a store; stop it, or use it (dialer web runs campaigns and SMS)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.asynccontextmanager
async def node_lock(settings: Settings) -> AsyncIterator[None]:
    """Hold the store's PBX lock for the block: :func:`pbx_lock` on SQLite, an advisory lock on PostgreSQL."""
    if not settings.store.url:
        with pbx_lock(settings):
            yield
        return
    lock = await postgres.hold_node_lock(settings.store.url)
    if lock is None:
        raise StoreInUse(
            f"store {without_password(settings.store.url)} is in use by another live dialer process (another node):"
            " only one dialer node per PostgreSQL database may talk to a PBX for now"
        )
    try:
        yield
    finally:
        await lock.release()
