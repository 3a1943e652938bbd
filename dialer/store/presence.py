"""The store of the agents' phone presence (migrations 0080, 0195): a node's own dealer's agents, whose
phones are on its PBX and in its inbound queue; another dealer's agent with the same endpoint is theirs."""

from __future__ import annotations

from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.campaigns.presence import PhoneState, Presence
from dialer.store.database import Database, Row
from dialer.timestamps import from_db, to_db


class PresenceStore:
    """One row per agent who ever set a presence; agents without one are logged in and available."""

    def __init__(self, db: Database, *, dealer_id: int = MAIN_DEALER_ID) -> None:
        """``dealer_id``: this node's dealer, whose agents' presence this is."""
        self._db = db
        self._dealer_id = dealer_id

    async def all(self) -> dict[str, Presence]:
        """Every stored presence of the dealer's agents, by agent."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT agent, state, reason, since FROM agent_presence WHERE dealer_id = ?", (self._dealer_id,)
            )
        return {row["agent"]: _presence(row) for row in rows}

    async def get(self, agent: str) -> Presence | None:
        """The dealer's ``agent``'s stored presence, or None when they never set one."""
        async with self._db.read() as r:
            row = await r.fetchone(
                "SELECT agent, state, reason, since FROM agent_presence WHERE dealer_id = ? AND agent = ?",
                (self._dealer_id, agent),
            )
        return None if row is None else _presence(row)

    async def save(self, presence: Presence, actor: str) -> None:
        """Store ``presence`` as its agent's, replacing the one before."""
        assert presence.since is not None, "a stored presence has a time"
        async with self._db.write() as tx:
            await tx.execute(
                "INSERT INTO agent_presence (dealer_id, agent, state, reason, since, actor) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (dealer_id, agent) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
                " since = excluded.since, actor = excluded.actor",
                (self._dealer_id, presence.agent, presence.state.value, presence.reason, to_db(presence.since), actor),
            )


def _presence(row: Row) -> Presence:
    return Presence(row["agent"], PhoneState(row["state"]), from_db(row["since"]), row["reason"])
