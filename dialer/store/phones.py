"""The store of the phones' SIP accounts (migration 0090)."""

from __future__ import annotations

from datetime import datetime

from dialer.domain.pbx.phones import PhoneAccount
from dialer.store.database import Database, Row
from dialer.store.errors import IntegrityError
from dialer.timestamps import from_db, from_db_or_none, to_db

_COLUMNS = "endpoint, ha1, created_at, changed_at"


class PhoneStore:
    """One row per phone endpoint; the digest secret (HA1), never the password."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[PhoneAccount]:
        """Every account, by endpoint."""
        async with self._db.read() as r:
            rows = await r.fetchall(f"SELECT {_COLUMNS} FROM phone_accounts ORDER BY endpoint")
        return [_account(row) for row in rows]

    async def get(self, endpoint: str) -> PhoneAccount | None:
        """The account of ``endpoint``, or None."""
        async with self._db.read() as r:
            row = await r.fetchone(f"SELECT {_COLUMNS} FROM phone_accounts WHERE endpoint = ?", (endpoint,))
        return None if row is None else _account(row)

    async def add(self, account: PhoneAccount) -> bool:
        """Store a new account; False when the endpoint is taken."""
        assert account.created_at is not None, "a stored account has a creation time"
        try:
            async with self._db.write() as tx:
                await tx.execute(
                    "INSERT INTO phone_accounts (endpoint, ha1, created_at) VALUES (?, ?, ?)",
                    (account.endpoint, account.ha1, to_db(account.created_at)),
                )
        except IntegrityError:
            return False
        return True

    async def set_ha1(self, endpoint: str, ha1: str, at: datetime) -> bool:
        """A new digest secret for ``endpoint``; False when there is no such account."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE phone_accounts SET ha1 = ?, changed_at = ? WHERE endpoint = ?", (ha1, to_db(at), endpoint)
            )
        return changed == 1

    async def remove(self, endpoint: str) -> bool:
        """Delete ``endpoint``'s account; False when there was none."""
        async with self._db.write() as tx:
            removed = await tx.execute("DELETE FROM phone_accounts WHERE endpoint = ?", (endpoint,))
        return removed == 1


def _account(row: Row) -> PhoneAccount:
    return PhoneAccount(
        endpoint=row["endpoint"],
        ha1=row["ha1"],
        created_at=from_db(row["created_at"]),
        changed_at=from_db_or_none(row["changed_at"]),
    )
