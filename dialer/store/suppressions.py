"""The suppression list in the store (migration 0110): one table, one active entry per number.

The hopper, the SMS outbox and ``campaign why`` read the same table through :data:`SUPPRESSED`,
a SQL condition on a number column, so "may this number be contacted" has one answer everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.privacy.suppression import Suppression, SuppressionSource
from dialer.logs import get_logger
from dialer.phone import mask
from dialer.store.database import Database, Reader, Row, Tx
from dialer.store.dealers import dealer_sql
from dialer.timestamps import from_db, from_db_or_none, to_db

log = get_logger(__name__)

SUPPRESSED = "EXISTS (SELECT 1 FROM suppressions s WHERE s.e164 = {number} AND s.lifted_at IS NULL)"
"""SQL: the number in column ``{number}`` is on the list (formatted with the column's name)."""

# The entry names the dealer who added it (told, else the lead's, else this node's) and the lead of
# the number (told, else this node's dealer's lead with that number, else any dealer's). A suppressed
# number is not dialled or texted by any dealer of the group.
_ADD = """
INSERT INTO suppressions (e164, reason, source, at, actor, lead_id, dealer_id)
SELECT :e164, :reason, :source, :at, :actor, x.lead_id,
       COALESCE(:dealer, (SELECT l.dealer_id FROM leads l WHERE l.id = x.lead_id), :node)
  FROM (SELECT coalesce(:lead_id, (SELECT p.lead_id FROM lead_phones p WHERE p.e164 = :e164
                                    ORDER BY CASE WHEN p.dealer_id = :node THEN 0 ELSE 1 END, p.rowid LIMIT 1))
               AS lead_id) AS x
 WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE e164 = :e164 AND lifted_at IS NULL)
"""


def _entry(row: Row) -> Suppression:
    return Suppression(
        id=row["id"],
        e164=row["e164"],
        reason=row["reason"],
        source=SuppressionSource(row["source"]),
        at=from_db(row["at"]),
        actor=row["actor"],
        lead_id=row["lead_id"],
        lifted_at=from_db_or_none(row["lifted_at"]),
        lifted_by=row["lifted_by"],
        lift_reason=row["lift_reason"],
        dealer_id=row["dealer_id"],
    )


class SuppressionStore:
    """Implements :class:`dialer.domain.privacy.suppression.SuppressionList`."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose an entry is unless its lead or the caller says."""
        self._db = db
        self._dealer_id = dealer_id

    async def add(
        self,
        e164: str,
        reason: str,
        source: SuppressionSource,
        at: datetime,
        actor: str,
        lead_id: int | None = None,
        dealer_id: int | None = None,
    ) -> bool:
        """Put a number on the list; False if it was on it already (the first entry is kept)."""
        return await self.add_many([e164], reason, source, at, actor, lead_id, dealer_id) == 1

    async def add_many(
        self,
        numbers: Iterable[str],
        reason: str,
        source: SuppressionSource,
        at: datetime,
        actor: str,
        lead_id: int | None = None,
        dealer_id: int | None = None,
    ) -> int:
        """Put each number on the list (one transaction); returns how many were not on it yet. The entries
        are ``dealer_id``'s (None: the lead's dealer's, else this node's)."""
        numbers = list(dict.fromkeys(numbers))
        async with self._db.write() as tx:
            added = 0
            for e164 in numbers:
                params = {"e164": e164, "reason": reason, "source": source.value, "at": to_db(at), "actor": actor}
                added += await tx.execute(
                    _ADD, {**params, "lead_id": lead_id, "dealer": dealer_id, "node": self._dealer_id}
                )
        log.info("suppression.add", numbers=[mask(n) for n in numbers], added=added, source=source.value, actor=actor)
        return added

    async def add_lead(
        self, lead_id: int, reason: str, source: SuppressionSource, at: datetime, actor: str, *also: str
    ) -> int:
        """Suppress every number of the lead (and ``also``: the number the person wrote from)."""
        async with self._db.write() as tx:
            rows = await tx.fetchall("SELECT e164 FROM lead_phones WHERE lead_id = ? ORDER BY rowid", (lead_id,))
            return await self.add_many([*(row[0] for row in rows), *also], reason, source, at, actor, lead_id)

    async def source_of_call(self, attempt_id: int | None) -> SuppressionSource:
        """Where an agent's 勿扰 came from: a call the customer made (inbound) or one we made."""
        async with self._db.read() as r:
            direction = (
                None
                if attempt_id is None
                else await r.fetchval("SELECT direction FROM attempts WHERE id = ?", (attempt_id,))
            )
        return SuppressionSource.INBOUND if direction == "inbound" else SuppressionSource.CALL

    async def lift(self, e164: str, reason: str, at: datetime, actor: str, dealers: DealerScope = EVERY_DEALER) -> bool:
        """Take a number off the list, keeping the entry with who and why; False if it was not on it (or its
        entry is a dealer's ``dealers`` does not see: one dealer does not lift another's)."""
        async with self._db.write() as tx:
            lifted = await tx.execute(
                "UPDATE suppressions SET lifted_at = ?, lifted_by = ?, lift_reason = ?"
                f" WHERE e164 = ? AND lifted_at IS NULL AND {dealer_sql(dealers, 'dealer_id')}",
                (to_db(at), actor, reason, e164),
            )
        log.info("suppression.lift", number=mask(e164), lifted=bool(lifted), actor=actor)
        return lifted == 1

    async def active(self, e164: str) -> Suppression | None:
        """The number's active entry, or None when it may be contacted."""
        async with self._db.read() as r:
            row = await r.fetchone("SELECT * FROM suppressions WHERE e164 = ? AND lifted_at IS NULL", (e164,))
        return None if row is None else _entry(row)

    async def search(
        self, text: str, *, include_lifted: bool, limit: int, dealers: DealerScope = EVERY_DEALER
    ) -> list[Suppression]:
        """Entries (of the dealers ``dealers`` sees) whose number or reason contains ``text`` (every entry
        for ""), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        like = self._db.dialect.like
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT * FROM suppressions WHERE (e164 {like} :p ESCAPE '\\' OR reason {like} :p ESCAPE '\\')"
                f" AND (:all = 1 OR lifted_at IS NULL) AND {dealer_sql(dealers, 'dealer_id')}"
                " ORDER BY at DESC, id DESC LIMIT :limit",
                {"p": pattern, "all": int(include_lifted), "limit": limit},
            )
        return [_entry(row) for row in rows]

    async def of_lead(self, r: Reader | Tx, lead_id: int) -> list[Suppression]:
        """The active entries of the lead's numbers, in the lead's number order (for ``campaign why``)."""
        rows = await r.fetchall(
            "SELECT s.* FROM lead_phones p JOIN suppressions s ON s.e164 = p.e164 AND s.lifted_at IS NULL"
            " WHERE p.lead_id = ? ORDER BY p.rowid",
            (lead_id,),
        )
        return [_entry(row) for row in rows]

    async def history(self, e164: str) -> list[Suppression]:
        """Every entry of the number, lifted ones too, oldest first (for a person's export)."""
        async with self._db.read() as r:
            rows = await r.fetchall("SELECT * FROM suppressions WHERE e164 = ? ORDER BY id", (e164,))
        return [_entry(row) for row in rows]
