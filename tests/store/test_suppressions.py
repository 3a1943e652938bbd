"""The suppression list's repository on both backends: one active entry per number (the first kept),
a lifted entry kept with who and why, and a search whose text is taken literally (``%`` and ``_``
match only themselves) and whose letters' case is ignored, as SQLite's LIKE does."""

from __future__ import annotations

from dialer.clock import VirtualClock
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.store.database import Database
from dialer.store.suppressions import SuppressionStore

A, B = "+8613800000001", "+8613800000002"


async def test_add_lift_search_and_history(db: Database, clock: VirtualClock) -> None:
    store = SuppressionStore(db)
    assert await store.add(A, "投诉 100%", SuppressionSource.CONSOLE, clock.now(), "li")
    assert not await store.add(A, "again", SuppressionSource.CLI, clock.now(), "wang")
    clock.advance(60)
    assert await store.add_many([B, B], "SMS TD", SuppressionSource.SMS_REPLY, clock.now(), "sms") == 1
    entry = await store.active(A)
    assert entry is not None and (entry.reason, entry.source, entry.actor) == (
        "投诉 100%",
        SuppressionSource.CONSOLE,
        "li",
    )
    assert [e.e164 for e in await store.search("", include_lifted=False, limit=10)] == [B, A]
    assert [e.e164 for e in await store.search("100%", include_lifted=False, limit=10)] == [A]
    assert await store.search("0_", include_lifted=False, limit=10) == []
    assert [e.e164 for e in await store.search("0000002", include_lifted=False, limit=10)] == [B]
    assert [e.e164 for e in await store.search("sms td", include_lifted=False, limit=10)] == [B]  # case ignored

    clock.advance(60)
    assert await store.lift(A, "客户同意回访", clock.now(), "supervisor")
    assert not await store.lift(A, "twice", clock.now(), "supervisor")
    assert await store.active(A) is None
    assert [e.e164 for e in await store.search("", include_lifted=False, limit=10)] == [B]
    assert [e.e164 for e in await store.search("", include_lifted=True, limit=1)] == [B]
    assert await store.add(A, "再次投诉", SuppressionSource.CALL, clock.now(), "agent1")
    history = await store.history(A)
    assert [(e.reason, e.lifted_by, e.lift_reason) for e in history] == [
        ("投诉 100%", "supervisor", "客户同意回访"),
        ("再次投诉", None, None),
    ]
