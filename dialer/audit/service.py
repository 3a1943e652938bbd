"""The audit log's service: every face and service that must account for an action records it here.

Each append is also written to the structured log as ``audit.appended`` (id, action, hash). The hash
chain shows a row deleted or edited in the middle of the table, but not rows cut off its end; the log
lines, kept apart from the database (journald, a log host), do: the last ``audit.appended`` line's id
and hash must be a row of the table (docs/audit.md, "Checking the tail").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dialer.clock import Clock
from dialer.domain.audit.model import (
    AuditAction,
    AuditEntry,
    AuditQuery,
    ChainBreak,
    ChainCheck,
    Detail,
    clip,
    encode_detail,
)
from dialer.logs import get_logger
from dialer.phone import mask
from dialer.store.audit import AuditStore

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of walking the whole chain: how many rows, the last one, and the first break."""

    rows: int
    last_id: int
    last_hash: str
    broken: ChainBreak | None


class AuditService:
    """Appends rows with the injected clock, reads them back filtered, verifies the chain."""

    def __init__(self, store: AuditStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self, actor: str, action: AuditAction, target: str, detail: Detail | None = None, *, dealer_id: int | None
    ) -> AuditEntry:
        """Append one row of ``dealer_id`` (see :class:`dialer.domain.audit.model.AuditTrail`)."""
        entry = await self._store.append(
            at=self._clock.now(),
            actor=clip(actor),
            action=AuditAction(action).value,
            target=clip(target),
            detail=encode_detail(detail or {}),
            dealer_id=dealer_id,
        )
        log.info("audit.appended", id=entry.id, action=entry.action, dealer_id=dealer_id, hash=entry.hash)
        return entry

    async def suppression_changed(
        self, actor: str, number: str, *, added: bool, reason: str, source: str, dealer_id: int
    ) -> AuditEntry:
        """A number put on (``added``) or taken off the suppression list; the number is stored masked.

        ``source`` says where the change came from (console, cli, sms_reply, disposition, inbound, import);
        ``dealer_id`` is the entry's (the dealer whose people added it)."""
        return await self.record(
            actor,
            AuditAction.SUPPRESSION_ADD if added else AuditAction.SUPPRESSION_REMOVE,
            mask(number),
            {"reason": reason, "source": source},
            dealer_id=dealer_id,
        )

    async def entries(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        """The rows matching ``query``, newest first, and the number of matches."""
        return await self._store.page(query)

    async def verify(self) -> ChainReport:
        """Walk every row in order and report the first where the chain breaks."""
        check = ChainCheck()
        async for page in self._store.chain():
            # Hashing is CPU work (~20 us a row): off the event loop, which also carries the PBX link.
            await asyncio.to_thread(check.feed, page)
        if check.broken is not None:
            log.error("audit.chain_broken", id=check.broken.id, kind=check.broken.kind.value)
        return ChainReport(check.rows, check.last_id, check.last_hash, check.broken)
