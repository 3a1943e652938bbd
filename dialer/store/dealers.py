"""The group's dealers (table ``dealers``, migration 0190) and the one place a scope becomes SQL.

Every repository that reads rows of several dealers narrows them with :func:`dealer_sql`, so the
condition is written once (docs/store.md "Dealers: one database, several dealers").
"""

from __future__ import annotations

from datetime import datetime

from dialer.domain.access.dealers import Dealer, DealerScope
from dialer.store.database import Database, Reader, Row, Tx
from dialer.timestamps import from_db, to_db

_COLUMNS = "id, code, name, created_at"


def dealer_sql(scope: DealerScope, column: str) -> str:
    """The condition on ``column`` (a ``dealer_id``, qualified as the query needs) that keeps the rows
    ``scope`` sees; ``1 = 1`` when it sees every dealer. The id is an int from the session, written
    inline so the fragment fits any query's placeholders."""
    return "1 = 1" if scope.dealer_id is None else f"{column} = {int(scope.dealer_id)}"


def _dealer(row: Row) -> Dealer:
    return Dealer(row["id"], row["code"], row["name"], from_db(row["created_at"]))


class DealerStore:
    """The group's dealers, by code."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(self, code: str, name: str, at: datetime) -> Dealer:
        """The dealer ``code``, made if the group has none by that code yet. A dealer whose name is
        still empty (dealer 1 as migration 0190 made it) takes ``name``."""
        async with self._db.write() as tx:
            found = await self._by_code(tx, code)
            if found is None:
                await tx.insert(
                    "INSERT INTO dealers (code, name, created_at) VALUES (?, ?, ?)", (code, name, to_db(at))
                )
            elif not found.name and name:
                await tx.execute("UPDATE dealers SET name = ? WHERE id = ?", (name, found.id))
            dealer = await self._by_code(tx, code)
        assert dealer is not None
        return dealer

    async def all(self) -> list[Dealer]:
        """Every dealer of the group, by code."""
        async with self._db.read() as r:
            rows = await r.fetchall(f"SELECT {_COLUMNS} FROM dealers ORDER BY code")
        return [_dealer(row) for row in rows]

    async def by_code(self, code: str) -> Dealer | None:
        """The dealer ``code``, or None."""
        async with self._db.read() as r:
            return await self._by_code(r, code)

    async def _by_code(self, r: Reader | Tx, code: str) -> Dealer | None:
        row = await r.fetchone(f"SELECT {_COLUMNS} FROM dealers WHERE code = ?", (code,))
        return None if row is None else _dealer(row)


def lead_dealer_sql(dealers: DealerScope, lead_column: str) -> str:
    """The condition that keeps rows whose lead (``lead_column``, a lead id) is of a dealer ``dealers``
    sees, for tables that take their dealer from their lead (lead_events, doss_outbox...)."""
    if dealers.dealer_id is None:
        return "1 = 1"
    return f"{lead_column} IN (SELECT dl.id FROM leads dl WHERE {dealer_sql(dealers, 'dl.dealer_id')})"
