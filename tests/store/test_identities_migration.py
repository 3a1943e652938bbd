"""Migration 0195 (logins and identities per dealer): a single dealer's store upgrades with nothing to do,
its users, sessions, TOTP, aliases, phones and presence kept; afterwards a second dealer may have the
same login, identity, endpoint, presence and alias, and one dealer may not have two."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.store.database import Database
from dialer.store.errors import IntegrityError
from tests.conftest import migrations_before

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
AT = "2026-12-03T01:00:00.000000Z"
HA1 = "0" * 32


async def test_a_single_dealer_store_upgrades_and_then_takes_a_second_dealers_same_names(tmp_path: Path) -> None:
    old = tmp_path / "old"
    migrations_before(old, "0195")
    store = tmp_path / "db.sqlite3"
    async with await Database.open(store, clock=VirtualClock(T0), migrations_dir=old) as db, db.write() as tx:
        await tx.execute(
            "INSERT INTO users (id, name, role, agent, password_hash, created_at) VALUES"
            " (1, 'admin', 'admin', NULL, 'h', ?), (2, 'wang', 'agent', '8001', 'h', ?)",
            (AT, AT),
        )
        await tx.execute(
            "INSERT INTO users (id, name, role, agent, password_hash, created_at, dealer_id)"
            " VALUES (3, 'boss', 'admin', NULL, 'h', ?, NULL)",
            (AT,),
        )
        await tx.execute(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, last_seen_at, expires_at)"
            " VALUES ('t', 2, 'c', ?, ?, ?)",
            (AT, AT, AT),
        )
        await tx.execute("INSERT INTO user_totp (user_id, secret, enrolled_at) VALUES (1, 'S', ?)", (AT,))
        await tx.execute(
            "INSERT INTO owner_aliases (alias, user_id, created_at, created_by) VALUES ('王丽', 2, ?, 'm')", (AT,)
        )
        await tx.execute("INSERT INTO phone_accounts (endpoint, ha1, created_at) VALUES ('8001', ?, ?)", (HA1, AT))
        await tx.execute(
            "INSERT INTO agent_presence (agent, state, reason, since, actor) VALUES ('8001', 'paused', 'lunch', ?, 'w')",
            (AT,),
        )
    async with await Database.open(store, clock=VirtualClock(T0)) as db:
        async with db.read() as r:
            users = await r.fetchall("SELECT id, name, agent, dealer_id FROM users ORDER BY id")
            assert [tuple(u) for u in users] == [(1, "admin", None, 1), (2, "wang", "8001", 1), (3, "boss", None, None)]
            assert await r.fetchval("SELECT user_id FROM web_sessions") == 2
            assert await r.fetchval("SELECT user_id FROM user_totp") == 1
            assert tuple(await r.fetchone("SELECT dealer_id, alias, user_id FROM owner_aliases")) == (1, "王丽", 2)
            assert tuple(await r.fetchone("SELECT dealer_id, endpoint FROM phone_accounts")) == (1, "8001")
            assert tuple(await r.fetchone("SELECT dealer_id, agent, reason FROM agent_presence")) == (
                1,
                "8001",
                "lunch",
            )
            assert await r.fetchall("PRAGMA foreign_key_check") == []
        async with db.write() as tx:
            await tx.execute("INSERT INTO dealers (id, code, name, created_at) VALUES (2, 'pudong', '', ?)", (AT,))
            await tx.execute(
                "INSERT INTO users (id, name, role, agent, password_hash, created_at, dealer_id) VALUES"
                " (4, 'admin', 'admin', NULL, 'h', ?, 2), (5, 'wang', 'agent', '8001', 'h', ?, 2)",
                (AT, AT),
            )
            await tx.execute(
                "INSERT INTO owner_aliases (alias, user_id, created_at, created_by, dealer_id)"
                " VALUES ('王丽', 5, ?, 'm', 2)",
                (AT,),
            )
            await tx.execute(
                "INSERT INTO phone_accounts (endpoint, ha1, created_at, dealer_id) VALUES ('8001', ?, ?, 2)", (HA1, AT)
            )
            await tx.execute(
                "INSERT INTO agent_presence (dealer_id, agent, state, since, actor)"
                " VALUES (2, '8001', 'available', ?, 'w')",
                (AT,),
            )
        for sql in (
            "INSERT INTO users (name, role, password_hash, created_at, dealer_id) VALUES ('admin', 'qa', 'h', ?, 2)",
            "INSERT INTO users (name, role, agent, password_hash, created_at, dealer_id) VALUES ('li', 'agent', '8001', 'h', ?, 2)",
            "INSERT INTO users (name, role, password_hash, created_at, dealer_id) VALUES ('boss', 'qa', 'h', ?, NULL)",
            "INSERT INTO phone_accounts (endpoint, ha1, created_at, dealer_id) VALUES ('8001', '" + HA1 + "', ?, 2)",
        ):
            with pytest.raises(IntegrityError):
                async with db.write() as tx:
                    await tx.execute(sql, (AT,))
