"""The store of enrolled authenticators (migration 0141, docs/web.md "Two-factor login")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialer.store.database import Database
from dialer.timestamps import to_db


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A user's TOTP secret and the last step a code was accepted for (kept out of repr)."""

    user_id: int
    secret: str
    last_step: int | None

    def __repr__(self) -> str:
        return f"Enrolment(user_id={self.user_id}, last_step={self.last_step})"


class TotpStore:
    """Enrol, remove, look up, and claim a time step once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enrol(self, user_id: int, secret: str, at: datetime) -> None:
        """A new secret for the user; any earlier one (and its last step) is replaced."""
        async with self._db.write() as tx:
            await tx.execute(
                "INSERT INTO user_totp (user_id, secret, enrolled_at) VALUES (?, ?, ?) ON CONFLICT (user_id)"
                " DO UPDATE SET secret = excluded.secret, enrolled_at = excluded.enrolled_at, last_step = NULL",
                (user_id, secret, to_db(at)),
            )

    async def remove(self, user_id: int) -> bool:
        """Forget the user's secret; False when there was none."""
        async with self._db.write() as tx:
            return await tx.execute("DELETE FROM user_totp WHERE user_id = ?", (user_id,)) == 1

    async def of(self, user_id: int) -> Enrolment | None:
        """The user's enrolment, or None."""
        async with self._db.read() as r:
            row = await r.fetchone("SELECT user_id, secret, last_step FROM user_totp WHERE user_id = ?", (user_id,))
        return None if row is None else Enrolment(row["user_id"], row["secret"], row["last_step"])

    async def claim(self, user_id: int, step: int) -> bool:
        """Record ``step`` as used; False when it (or a later one) already was: two logins racing with
        the same code, only one wins."""
        async with self._db.write() as tx:
            changed = await tx.execute(
                "UPDATE user_totp SET last_step = ? WHERE user_id = ? AND (last_step IS NULL OR last_step < ?)",
                (step, user_id, step),
            )
        return changed == 1
