"""One dialer process per store talks to the PBX: an exclusive lock beside the store file.

Two processes with an AMI link on one store would each act on the same calls: opening the
link reconciles calls in flight (``CallService.recover`` adopts the live ones and closes the
others as ``unknown``), both would route the same inbound callers and run the same campaign's
runner, claiming and dialling leads twice. :func:`open_app <dialer.app.open_app>` therefore
holds ``<store>.pbx.lock`` (``flock``: released by the kernel when the process dies, so a crash
never leaves it stale) for as long as its link is open. Commands that only read or write the
store (imports, reports, ``dialer web --no-pbx``) do not take it.

On PostgreSQL (``[store] url``) a dealer group runs several nodes on one database, one per PBX:
there :func:`node_lock` takes nothing, and each node holds its PBX's lease instead
(:mod:`dialer.store.leases`, taken by :func:`open_app <dialer.app.open_app>`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

from dialer.settings import Settings
from dialer.store.errors import StoreError


class StoreInUse(StoreError):
    """Another live dialer process holds this store's PBX lock (the message names its pid)."""


class LeaseHeld(StoreInUse):
    """On PostgreSQL: another node's lease on this PBX has not expired (:mod:`dialer.store.leases`)."""

    def __init__(self, pbx: str, node: str, expires_at: datetime) -> None:
        self.pbx = pbx
        self.node = node
        self.expires_at = expires_at
        super().__init__(
            f"PBX {pbx!r} is driven by another live dialer node ({node}, lease until"
            f" {expires_at.isoformat(timespec='seconds')}): one node per PBX; stop that node, give this"
            " node its own PBX ([pbx] name), or start it again once the lease has expired"
        )


class LeaseLost(StoreError):
    """This node's lease on its PBX ran out without a renewal: it must stop driving that PBX."""

    def __init__(self, pbx: str, node: str, expired_at: datetime) -> None:
        self.pbx = pbx
        self.node = node
        self.expired_at = expired_at
        super().__init__(
            f"this node ({node}) no longer holds PBX {pbx!r}'s lease (expired"
            f" {expired_at.isoformat(timespec='seconds')} without a renewal): it stops dialling;"
            " another node may have taken the PBX over"
        )


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
    """Hold the store's PBX lock for the block on SQLite; on PostgreSQL the PBX's lease stands for it."""
    if settings.store.url:
        yield
        return
    with pbx_lock(settings):
        yield
