"""The store of the phones' SIP accounts (migrations 0090, 0195): keyed (dealer, endpoint), since each
dealer's PBX numbers its own phones (8001 at every showroom). A node adds, resets and removes accounts
on its own PBX, so of its own dealer; a list may show several dealers'."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.pbx.phones import PhoneAccount
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.store.errors import IntegrityError
from dialer.timestamps import from_db, from_db_or_none, to_db

_COLUMNS = "endpoint, ha1, created_at, changed_at, dealer_id"


class PhoneStore:
    """One row per dealer's phone endpoint; the digest secret (HA1), never the password."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose PBX the accounts it adds are on."""
        self._db = db
        self._dealer_id = dealer_id

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[PhoneAccount]:
        """Every account of the dealers ``dealers`` sees, by endpoint."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_COLUMNS} FROM phone_accounts WHERE {dealer_sql(dealers, 'dealer_id')} ORDER BY endpoint, dealer_id"
            )
        return [_account(row) for row in rows]

    def _mine(self, dealers: DealerScope) -> str:
        """This node's dealer's accounts, when ``dealers`` sees that dealer (else none)."""
        return f"dealer_id = {int(self._dealer_id)} AND {dealer_sql(dealers, 'dealer_id')}"

    async def get(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> PhoneAccount | None:
        """This node's dealer's account of ``endpoint``, or None (also when ``dealers`` does not see it)."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {_COLUMNS} FROM phone_accounts WHERE endpoint = ? AND {self._mine(dealers)}", (endpoint,)
            )
        return None if row is None else _account(row)

    async def add(self, account: PhoneAccount) -> PhoneAccount | None:
        """Store a new account of this node's dealer and return it as stored (the dealer's); None when the
        dealer has the endpoint already."""
        assert account.created_at is not None, "a stored account has a creation time"
        try:
            async with self._db.write() as tx:
                await tx.execute(
                    "INSERT INTO phone_accounts (endpoint, ha1, created_at, dealer_id) VALUES (?, ?, ?, ?)",
                    (account.endpoint, account.ha1, to_db(account.created_at), self._dealer_id),
                )
        except IntegrityError:
            return None
        return replace(account, dealer_id=self._dealer_id)

    async def set_ha1(self, endpoint: str, ha1: str, at: datetime, dealers: DealerScope = EVERY_DEALER) -> bool:
        """A new digest secret for this node's dealer's ``endpoint``; False when there is no such account
        (``dealers`` sees)."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                f"UPDATE phone_accounts SET ha1 = ?, changed_at = ? WHERE endpoint = ? AND {self._mine(dealers)}",
                (ha1, to_db(at), endpoint),
            )
        return changed == 1

    async def remove(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> bool:
        """Delete this node's dealer's ``endpoint`` account; False when there was none (``dealers`` sees)."""
        async with self._db.write() as tx:
            removed = await tx.execute(
                f"DELETE FROM phone_accounts WHERE endpoint = ? AND {self._mine(dealers)}", (endpoint,)
            )
        return removed == 1


def _account(row: Row) -> PhoneAccount:
    return PhoneAccount(
        endpoint=row["endpoint"],
        ha1=row["ha1"],
        created_at=from_db(row["created_at"]),
        changed_at=from_db_or_none(row["changed_at"]),
        dealer_id=row["dealer_id"],
    )
