"""The store of console users, their web sessions and owner aliases (migrations 0070, 0100, 0195; docs/web.md).

Logins, agent identities and aliases are unique per dealer (a group-wide user's among group users), so
every lookup by one of them names the dealer (None: the group's people)."""

from __future__ import annotations

from datetime import datetime

from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope, split_qualified
from dialer.domain.access.policy import Role
from dialer.domain.auth.owners import OwnerAlias, OwnerDirectory
from dialer.domain.auth.records import SessionRecord, UserRecord
from dialer.store.database import Database, Row
from dialer.store.dealers import dealer_sql
from dialer.store.errors import IntegrityError
from dialer.timestamps import from_db, from_db_or_none, to_db

_USER_COLUMNS = "u.id, u.name, u.role, u.agent, u.password_hash, u.created_at, u.disabled_at, u.mobile, u.dealer_id"


def _user(row: Row) -> UserRecord:
    return UserRecord(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        agent=row["agent"],
        password_hash=row["password_hash"],
        created_at=from_db(row["created_at"]),
        disabled_at=from_db_or_none(row["disabled_at"]),
        mobile=row["mobile"],
        dealer_id=row["dealer_id"],
    )


def _of_dealer(dealer_id: int | None) -> str:
    """The condition that keeps ``dealer_id``'s people (None: the group-wide ones); the id is an int, inline."""
    return "u.dealer_id IS NULL" if dealer_id is None else f"u.dealer_id = {int(dealer_id)}"


class UserStore:
    """Users and sessions; names are unique per dealer, sessions are found by the hash of their cookie token."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        name: str,
        role: Role,
        agent: str | None,
        password_hash: str,
        at: datetime,
        dealer_id: int | None = MAIN_DEALER_ID,
        mobile: str | None = None,
    ) -> UserRecord:
        """Store a new user of ``dealer_id`` (None: group-wide); :class:`IntegrityError` if the name or the
        agent identity is taken in that dealer (or among group-wide users) or the dealer does not exist."""
        async with self._db.write() as tx:
            user_id = await tx.insert(
                "INSERT INTO users (name, role, agent, password_hash, created_at, mobile, dealer_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, role.value, agent, password_hash, to_db(at), mobile, dealer_id),
            )
        return UserRecord(
            user_id, name, role, agent, password_hash, from_db(to_db(at)), mobile=mobile, dealer_id=dealer_id
        )

    async def by_agent(self, agent: str, dealer_id: int | None) -> UserRecord | None:
        """The user of ``dealer_id`` (None: a group-wide user) whose agent identity is ``agent``, disabled or not."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE u.agent = ? AND {_of_dealer(dealer_id)}", (agent,)
            )
        return None if row is None else _user(row)

    async def set_mobile(self, user_id: int, mobile: str | None) -> None:
        """The user's own mobile (E.164), or None to forget it."""
        async with self._db.write() as tx:
            if not await tx.execute("UPDATE users SET mobile = ? WHERE id = ?", (mobile, user_id)):
                raise IntegrityError(f"user id {user_id} does not exist")

    # -- owner aliases: the names lead files use for a user (migration 0100) ---------------------

    async def aliases(self, dealers: DealerScope = EVERY_DEALER) -> list[OwnerAlias]:
        """Every alias of the dealers ``dealers`` sees, with its user's login and identity, by alias."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                "SELECT a.alias, u.name, u.agent FROM owner_aliases a JOIN users u ON u.id = a.user_id"
                f" WHERE {dealer_sql(dealers, 'a.dealer_id')} ORDER BY a.alias, a.dealer_id"
            )
        return [OwnerAlias(row["alias"], row["name"], row["agent"] or "") for row in rows]

    async def add_alias(self, alias: str, user: UserRecord, at: datetime, actor: str) -> bool:
        """Map ``alias`` to ``user`` (an agent, so one dealer's) in their dealer, replacing an earlier mapping
        there; False if it already named this user."""
        assert user.dealer_id is not None, "aliases name agents, and an agent is one dealer's"
        async with self._db.write() as tx:
            row = await tx.fetchone(
                "SELECT user_id FROM owner_aliases WHERE dealer_id = ? AND alias = ?", (user.dealer_id, alias)
            )
            if row is not None and row["user_id"] == user.id:
                return False
            await tx.execute(
                "INSERT INTO owner_aliases (dealer_id, alias, user_id, created_at, created_by) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (dealer_id, alias) DO UPDATE SET user_id = excluded.user_id,"
                " created_at = excluded.created_at, created_by = excluded.created_by",
                (user.dealer_id, alias, user.id, to_db(at), actor),
            )
        return True

    async def remove_alias(self, alias: str, dealer_id: int) -> bool:
        """Forget ``dealer_id``'s ``alias``; False if there was none."""
        async with self._db.write() as tx:
            removed = await tx.execute(
                "DELETE FROM owner_aliases WHERE dealer_id = ? AND alias = ?", (dealer_id, alias)
            )
        return removed == 1

    async def owner_directory(self, dealer_id: int) -> OwnerDirectory:
        """Every name an owner of ``dealer_id`` goes by (login, identity, alias) to the identity their work is
        filed under: one dealer's, since another dealer's people may go by the same names."""
        dealers = DealerScope.of(dealer_id)
        return OwnerDirectory.build(await self.all(dealers), await self.aliases(dealers))

    async def by_name(self, name: str, dealer_id: int | None) -> UserRecord | None:
        """The user of ``dealer_id`` (None: the group-wide user) with this login name, disabled or not."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE u.name = ? AND {_of_dealer(dealer_id)}", (name,)
            )
        return None if row is None else _user(row)

    async def at_node(self, login: str, node_dealer_id: int) -> UserRecord | None:
        """Who ``login`` means at a node of ``node_dealer_id`` (docs/web.md "Logging in"): ``code/name`` is
        the user ``name`` of the dealer ``code``; a plain ``name`` is the node's dealer's user, else the
        group-wide user of that login (the users service keeps the two apart, so it is never both)."""
        code, name = split_qualified(login)
        if code is None:
            return await self.by_name(login, node_dealer_id) or await self.by_name(login, None)
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {_USER_COLUMNS} FROM users u JOIN dealers d ON d.id = u.dealer_id"
                " WHERE d.code = ? AND u.name = ?",
                (code, name),
            )
        return None if row is None else _user(row)

    async def with_login(self, name: str) -> list[UserRecord]:
        """Every user of the group whose login is ``name`` (one per dealer at most, and the group's)."""
        async with self._db.read() as r:
            rows = await r.fetchall(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.name = ? ORDER BY u.id", (name,))
        return [_user(row) for row in rows]

    async def all(self, dealers: DealerScope = EVERY_DEALER) -> list[UserRecord]:
        """Every user ``dealers`` sees, by name (a dealer's scope: that dealer's people, not the group's)."""
        async with self._db.read() as r:
            rows = await r.fetchall(
                f"SELECT {_USER_COLUMNS} FROM users u WHERE {dealer_sql(dealers, 'u.dealer_id')}"
                " ORDER BY u.name, u.dealer_id"
            )
        return [_user(row) for row in rows]

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's hash (a new password, or the same one re-hashed at a higher cost)."""
        async with self._db.write() as tx:
            if not await tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)):
                raise IntegrityError(f"user id {user_id} does not exist")

    async def add_session(
        self, *, token_hash: str, user_id: int, csrf: str, at: datetime, expires_at: datetime
    ) -> None:
        """Start a session for a user who just proved their password."""
        async with self._db.write() as tx:
            await tx.execute(
                "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, last_seen_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, user_id, csrf, to_db(at), to_db(at), to_db(expires_at)),
            )

    async def session(self, token_hash: str) -> SessionRecord | None:
        """The session with this token hash and its user, expired or not (the caller judges)."""
        async with self._db.read() as r:
            row = await r.fetchone(
                f"SELECT {_USER_COLUMNS}, s.token_hash, s.csrf, s.created_at AS s_created, s.last_seen_at, s.expires_at"
                " FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
                (token_hash,),
            )
        if row is None:
            return None
        return SessionRecord(
            token_hash=row["token_hash"],
            user=_user(row),
            csrf=row["csrf"],
            created_at=from_db(row["s_created"]),
            last_seen_at=from_db(row["last_seen_at"]),
            expires_at=from_db(row["expires_at"]),
        )

    async def touch_session(self, token_hash: str, at: datetime) -> None:
        """Record activity, which keeps the session from idling out."""
        async with self._db.write() as tx:
            await tx.execute("UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?", (to_db(at), token_hash))

    async def set_disabled(self, user_id: int, at: datetime | None) -> None:
        """Disable the user from ``at``, or (None) enable them again."""
        async with self._db.write() as tx:
            await tx.execute(
                "UPDATE users SET disabled_at = ? WHERE id = ?", (None if at is None else to_db(at), user_id)
            )

    async def end_sessions_of(self, user_id: int) -> int:
        """Log the user out everywhere; returns how many sessions ended."""
        async with self._db.write() as tx:
            return await tx.execute("DELETE FROM web_sessions WHERE user_id = ?", (user_id,))

    async def end_session(self, token_hash: str) -> None:
        """Log out: the cookie's token stops working at once."""
        async with self._db.write() as tx:
            await tx.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))

    async def purge_sessions(self, before: datetime) -> int:
        """Forget sessions that expired before ``before``; returns how many."""
        async with self._db.write() as tx:
            return await tx.execute("DELETE FROM web_sessions WHERE expires_at < ?", (to_db(before),))
