"""The audit log's hash chain: rows chain in order, a deleted or edited row is named, parallel writers
(in one process and through a second connection, as the CLI beside the service) never fork the chain,
and every append leaves its id and hash in the structured log."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialer.audit.service import AuditService
from dialer.clock import VirtualClock
from dialer.domain.audit.model import (
    GENESIS,
    AuditAction,
    AuditEntry,
    AuditQuery,
    BreakKind,
    ChainBreak,
    Encoding,
    encode_detail,
    row_hash,
)
from dialer.store.audit import AuditStore
from dialer.store.database import Database
from dialer.store.errors import IntegrityError, StoreError
from dialer.timestamps import to_db
from tests.conftest import START


@pytest.fixture
def audit(db: Database, clock: VirtualClock) -> AuditService:
    return AuditService(AuditStore(db), clock)


async def _five(audit: AuditService, clock: VirtualClock) -> list[AuditEntry]:
    rows = []
    for n in range(5):
        clock.advance(60)
        rows.append(
            await audit.record("li", AuditAction.EXPORT, f"reports-{n}.xlsx", {"month": "2026-11"}, dealer_id=1)
        )
    return rows


async def _tamper(db: Database, sql: str, params: tuple[object, ...] = ()) -> None:
    """What someone with the database file (or the database's owner) can do: drop the guards, then
    change the table."""
    on_table = " ON audit_log" if db.dialect.is_postgresql else ""
    async with db.write() as tx:
        await tx.execute("DROP TRIGGER IF EXISTS audit_log_no_update" + on_table)
        await tx.execute("DROP TRIGGER IF EXISTS audit_log_no_delete" + on_table)
        await tx.execute(sql, params)


def test_the_hash_covers_every_field_and_the_link() -> None:
    fields = {
        "id": 1,
        "at": to_db(START),
        "actor": "li",
        "action": "export",
        "target": "x",
        "detail": "{}",
        "prev_hash": GENESIS,
        "dealer_id": 2,
        "encoding": Encoding.DEALER,
    }
    digest = row_hash(**fields)  # type: ignore[arg-type]
    assert len(digest) == 64 and digest == row_hash(**fields)  # type: ignore[arg-type]
    for name, other in [("id", 2), ("actor", "lj"), ("action", "login"), ("target", "y"), ("detail", '{"a":1}'),
                        ("prev_hash", "1" * 64), ("dealer_id", 3), ("dealer_id", None),
                        ("encoding", Encoding.PLAIN)]:  # fmt: skip
        assert row_hash(**{**fields, name: other}) != digest, name  # type: ignore[arg-type]
    # Field boundaries cannot be shifted: "a","bc" and "ab","c" hash apart.
    assert row_hash(**{**fields, "actor": "a", "target": "bc"}) != row_hash(**{**fields, "actor": "ab", "target": "c"})  # type: ignore[arg-type]
    assert encode_detail({"b": 1, "a": "号"}) == encode_detail({"a": "号", "b": 1}) == '{"a":"号","b":1}'


async def test_rows_chain_in_order_and_the_chain_holds(audit: AuditService, clock: VirtualClock) -> None:
    rows = await _five(audit, clock)
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    report = await audit.verify()
    assert (report.rows, report.last_id, report.last_hash, report.broken) == (5, 5, rows[-1].hash, None)


async def test_the_table_refuses_changes_and_deletions(audit: AuditService, db: Database, clock: VirtualClock) -> None:
    await _five(audit, clock)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 5"):
        with pytest.raises((IntegrityError, StoreError), match="append-only"):
            async with db.write() as tx:
                await tx.execute(sql)
    assert (await audit.verify()).rows == 5


async def test_a_deleted_row_breaks_the_chain_at_the_row_after_it(
    audit: AuditService, db: Database, clock: VirtualClock
) -> None:
    await _five(audit, clock)
    await _tamper(db, "DELETE FROM audit_log WHERE id = 3")
    assert (await audit.verify()).broken == ChainBreak(4, BreakKind.LINK)


async def test_a_deleted_first_row_shows(audit: AuditService, db: Database, clock: VirtualClock) -> None:
    await _five(audit, clock)
    await _tamper(db, "DELETE FROM audit_log WHERE id = 1")
    assert (await audit.verify()).broken == ChainBreak(2, BreakKind.LINK)


async def test_an_edited_row_is_named(audit: AuditService, db: Database, clock: VirtualClock) -> None:
    await _five(audit, clock)
    await _tamper(db, "UPDATE audit_log SET actor = 'somebody-else' WHERE id = 2")
    report = await audit.verify()
    assert report.broken == ChainBreak(2, BreakKind.EDITED) and report.rows == 5


async def test_an_edited_row_with_its_hash_recomputed_breaks_the_link_after_it(
    audit: AuditService, db: Database, clock: VirtualClock
) -> None:
    rows = await _five(audit, clock)
    forged = row_hash(id=2, at=to_db(rows[1].at), actor="x", action=rows[1].action, target=rows[1].target,
                      detail=rows[1].detail, prev_hash=rows[1].prev_hash, dealer_id=1,
                      encoding=Encoding.DEALER)  # fmt: skip
    await _tamper(db, "UPDATE audit_log SET actor = 'x', hash = ? WHERE id = 2", (forged,))
    assert (await audit.verify()).broken == ChainBreak(3, BreakKind.LINK)


async def test_parallel_appends_from_two_connections_keep_one_chain(
    audit: AuditService, store_target: str | Path, clock: VirtualClock
) -> None:
    """The service and a CLI command append at once: each append reads the last hash and inserts in one
    write transaction, so no two rows ever chain onto the same predecessor."""
    other_db = await Database.open(store_target, clock=clock)
    try:
        other = AuditService(AuditStore(other_db), clock)
        await asyncio.gather(
            *(
                (audit if n % 2 else other).record(
                    f"user{n}", AuditAction.LOGIN, f"user{n}", {"address": "10.0.0.1"}, dealer_id=1
                )
                for n in range(60)
            )
        )
    finally:
        await other_db.close()
    report = await audit.verify()
    assert (report.rows, report.last_id, report.broken) == (60, 60, None)
    entries, total = await audit.entries(AuditQuery(limit=100))
    assert total == 60 and len({e.prev_hash for e in entries}) == 60
    assert {e.actor for e in entries} == {f"user{n}" for n in range(60)}


async def test_every_append_is_in_the_structured_log_with_id_and_hash(audit: AuditService) -> None:
    with capture_logs() as logs:
        entry = await audit.record("li", AuditAction.LOGIN, "li", {"address": "10.0.0.9"}, dealer_id=1)
    (line,) = [e for e in logs if e["event"] == "audit.appended"]
    assert (line["id"], line["hash"], line["action"]) == (entry.id, entry.hash, "login")


async def test_the_suppression_hook_masks_the_number(audit: AuditService) -> None:
    entry = await audit.suppression_changed(
        "li", "+8613800138000", added=True, reason="勿扰", source="console", dealer_id=1
    )
    assert (entry.action, entry.target, entry.detail_dict()) == (
        "suppression.add",
        "+86138****8000",
        {"reason": "勿扰", "source": "console"},
    )
    removed = await audit.suppression_changed(
        "li", "+8613800138000", added=False, reason="asked", source="cli", dealer_id=1
    )
    assert (removed.action, removed.dealer_id) == ("suppression.remove", 1)


async def test_filters_and_pages(audit: AuditService, clock: VirtualClock) -> None:
    await _five(audit, clock)  # 09:01 .. 09:05 local, exports by li
    await audit.record("zhang", AuditAction.LOGIN, "zhang", dealer_id=1)
    only_li, total = await audit.entries(AuditQuery(actor="li", limit=2, offset=1))
    assert total == 5 and [e.id for e in only_li] == [4, 3]
    logins, total = await audit.entries(AuditQuery(action=AuditAction.LOGIN))
    assert total == 1 and logins[0].actor == "zhang"
    window, total = await audit.entries(AuditQuery(since=START.replace(minute=2), until=START.replace(minute=4)))
    assert [e.id for e in window] == [3, 2]


async def test_a_hostile_actor_is_clipped(audit: AuditService) -> None:
    entry = await audit.record("x" * 10_000, AuditAction.LOGIN_FAILED, "y" * 10_000, dealer_id=1)
    assert len(entry.actor) == len(entry.target) == 200
