"""The audit log per dealer (docs/audit.md "Dealers"): rows written before migration 0192 keep verifying
and are given a dealer from what they name; every new row proves its dealer through its hash; a dealer's
scope reads its own rows only, never group-level ones. Runs on both backends."""

from __future__ import annotations

from pathlib import Path

from dialer.audit.service import AuditService
from dialer.clock import VirtualClock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_ID, DealerScope
from dialer.domain.audit.model import GENESIS, AuditAction, AuditQuery, BreakKind, ChainBreak, Encoding, row_hash
from dialer.store.audit import AuditStore
from dialer.store.database import Database
from tests.conftest import migrations_before

AT = "2026-11-20T01:00:00.000000Z"

# Rows as a dealer group's store held them before 0192: (actor, action, target).
_OLD = (
    ("wang", "login", "wang"),  # a person of dealer b: b's
    ("cli:it", "user.add", "wang"),  # a change to b's person made on the command line: b's
    ("cli:it", "export", "backup"),  # names no dealer, and the store has two: the group's
    ("web:li", "recording.reconcile", "recordings"),  # the console's actor of main's person: main's
)


async def _old_store(target: str | Path, tmp_path: Path, clock: VirtualClock) -> None:
    """A store migrated up to 0191 with two dealers, two people and four chained rows in the old encoding."""
    before = migrations_before(tmp_path / "before", "0192", postgresql=isinstance(target, str))
    async with await Database.open(target, clock=clock, migrations_dir=before) as db, db.write() as tx:
        await tx.execute("INSERT INTO dealers (id, code, name, created_at) VALUES (2, 'b', 'B', ?)", (AT,))
        await tx.executemany(
            "INSERT INTO users (name, role, password_hash, created_at, dealer_id) VALUES (?, ?, 'x', ?, ?)",
            [("wang", "supervisor", AT, 2), ("li", "admin", AT, MAIN_DEALER_ID)],
        )
        prev = GENESIS
        for row_id, (actor, action, target_) in enumerate(_OLD, start=1):
            digest = row_hash(id=row_id, at=AT, actor=actor, action=action, target=target_, detail="{}",
                              prev_hash=prev, dealer_id=None, encoding=Encoding.PLAIN)  # fmt: skip
            await tx.execute(
                "INSERT INTO audit_log (id, at, actor, action, target, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, '{}', ?, ?)",
                (row_id, AT, actor, action, target_, prev, digest),
            )
            prev = digest


async def _tamper(db: Database, sql: str) -> None:
    on_table = " ON audit_log" if db.dialect.is_postgresql else ""
    async with db.write() as tx:
        await tx.execute("DROP TRIGGER IF EXISTS audit_log_no_update" + on_table)
        await tx.execute(sql)


async def test_old_rows_keep_verifying_new_rows_prove_their_dealer_and_each_dealer_reads_its_own(
    empty_store_target: str | Path, tmp_path: Path, clock: VirtualClock
) -> None:
    await _old_store(empty_store_target, tmp_path, clock)
    async with await Database.open(empty_store_target, clock=clock) as db:
        audit = AuditService(AuditStore(db), clock)
        old, _ = await audit.entries(AuditQuery())
        assert [(e.id, e.dealer_id, e.encoding) for e in reversed(old)] == [
            (1, 2, Encoding.PLAIN), (2, 2, Encoding.PLAIN), (3, None, Encoding.PLAIN), (4, MAIN_DEALER_ID, Encoding.PLAIN)
        ]  # fmt: skip
        assert (await audit.verify()).broken is None

        await audit.record("li", AuditAction.EXPORT, "reports.xlsx", dealer_id=MAIN_DEALER_ID)
        await audit.record("cli:it", AuditAction.USER_DISABLE, "wang", dealer_id=2)
        await audit.record("nobody", AuditAction.LOGIN_FAILED, "nobody", dealer_id=None)
        report = await audit.verify()
        assert report.broken is None and report.rows == 7

        for scope, expected in ((DealerScope.of(2), [6, 2, 1]), (DealerScope.of(MAIN_DEALER_ID), [5, 4]),
                                (EVERY_DEALER, [7, 6, 5, 4, 3, 2, 1])):  # fmt: skip
            entries, total = await audit.entries(AuditQuery(dealers=scope))
            assert [e.id for e in entries] == expected and total == len(expected), scope

        # A new row's dealer is in its hash: moving b's row to main breaks the chain at that row.
        await _tamper(db, "UPDATE audit_log SET dealer_id = 1 WHERE id = 6")
        assert (await audit.verify()).broken == ChainBreak(6, BreakKind.EDITED)
        await _tamper(db, "UPDATE audit_log SET dealer_id = 2 WHERE id = 6")
        assert (await audit.verify()).broken is None
        # Nor can a new row pass for an old one: its hash was made with its dealer.
        await _tamper(db, "UPDATE audit_log SET encoding = 1 WHERE id = 5")
        assert (await audit.verify()).broken == ChainBreak(5, BreakKind.EDITED)
