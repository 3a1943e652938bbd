from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.leads.errors import LeadNotFound, LeadStateError
from dialer.domain.leads.model import IntentLevel, LeadEventKind, LeadSource, LeadState
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.leads.service import DueScope, LeadService
from dialer.store.database import Database
from dialer.store.errors import StoreError
from dialer.store.suppressions import SuppressionStore
from tests.conftest import START


async def import_rows(
    service: LeadService, sheet, rows: list[list[object]], source: LeadSource = LeadSource.HQ
) -> None:
    headers = ["姓名", "手机", "下发时间", "移交时间", "意向级别", "负责人"]
    await service.importer.import_file(sheet(f"f{len(rows)}_{rows[0][1]}.csv", headers, rows), actor="t", source=source)


async def test_first_phone_follow_up_is_a_reached_contact(service: LeadService, sheet, clock: VirtualClock) -> None:
    await import_rows(service, sheet, [["张三", "13800138000", "2026-11-29 08:00", "", "A", "王丽"]])
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None and lead.due_kind == "first_follow_up"
    clock.advance(3600)
    missed = await service.store.record_contact(lead.id, clock.now(), "王丽", Outcome.NO_ANSWER, attempt_id=7)
    assert not missed.followed_up and missed.state is LeadState.NEW and missed.due_kind == "first_follow_up"
    clock.advance(3600)
    reached = await service.store.record_contact(lead.id, clock.now(), "王丽", Outcome.ANSWERED, attempt_id=8)
    assert reached.first_contact_at == clock.now() and reached.state is LeadState.FOLLOWING
    # Intent A: due again after the A cadence (4 days by default).
    assert (reached.due_kind, reached.due_at) == ("cadence", clock.now() + timedelta(days=4))
    history = [(e.kind, e.data) for e in await service.store.events(lead.id)][1:]
    assert history == [
        ("attempt", {"channel": "phone", "outcome": "no_answer", "attempt_id": 7, "first": False}),
        ("contact", {"channel": "phone", "outcome": "answered", "attempt_id": 8, "first": True}),
        ("state", {"from": "new", "to": "following", "reason": "first follow-up"}),
    ]
    assert await service.store.get(lead.id) == reached


async def test_state_changes_record_callbacks_visits_and_refuse_illegal_moves(
    service: LeadService, sheet, clock: VirtualClock
) -> None:
    await import_rows(service, sheet, [["张三", "13800138000", "", "", "", ""]])
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None
    now = clock.now()
    await service.store.record_contact(lead.id, now, "王丽", Outcome.ANSWERED)
    callback = now + timedelta(days=1, hours=5)
    after = await service.store.change_state(
        lead.id, LeadState.FOLLOWING, now, "王丽", intent=IntentLevel.B, callback_at=callback
    )
    assert (after.due_kind, after.due_at, after.intent) == ("callback", callback, IntentLevel.B)
    visit = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    invited = await service.store.change_state(
        lead.id, LeadState.INVITED, now, "王丽", visit_at=visit, data={"result": "预约到店"}
    )
    assert invited.state is LeadState.INVITED and invited.due_kind == "callback"  # the agreed call still comes first
    reminded = await service.store.record_visit_reminder(lead.id, now, "sms")
    assert reminded.visit_reminded_at == now
    deal = await service.store.change_state(lead.id, LeadState.DEAL, now, "王丽")
    assert deal.due_at is None
    with pytest.raises(LeadStateError, match=f"lead {lead.id}: cannot go from deal to following"):
        await service.store.change_state(lead.id, LeadState.FOLLOWING, now, "王丽")
    kinds = [e.kind for e in await service.store.events(lead.id)]
    assert kinds == ["created", "contact", "state", "callback", "state", "visit_booked", "visit_reminded", "state"]
    states = [e.data for e in await service.store.events(lead.id) if e.kind == "state"]
    assert states[1] == {"from": "following", "to": "invited", "reason": None, "result": "预约到店"}


async def test_defeat_and_reactivation_restart_the_hand_over_deadline(
    service: LeadService, sheet, clock: VirtualClock
) -> None:
    await import_rows(service, sheet, [["张三", "13800138000", "", "", "", ""]])
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None
    await service.store.record_contact(lead.id, clock.now(), "王丽", Outcome.ANSWERED)
    lost = await service.store.change_state(lead.id, LeadState.DEFEATED, clock.now(), "王丽", defeat_reason="价格原因")
    assert lost.due_at is None and lost.defeat_reason == "价格原因"
    clock.advance(30 * 86400)
    again = await service.store.change_state(lead.id, LeadState.REACTIVATED, clock.now(), "经理")
    assert (again.handed_over_at, again.due_kind, again.due_at) == (
        clock.now(),
        "first_follow_up",
        clock.now() + timedelta(days=2),
    )


async def test_opt_out_stops_every_deadline(service: LeadService, sheet, clock: VirtualClock, db: Database) -> None:
    await import_rows(service, sheet, [["张三", "13800138000", "", "", "", ""]])
    lead = await service.store.find_by_phone("+8613800138000")
    assert lead is not None
    await SuppressionStore(db).add_lead(lead.id, "回复TD", SuppressionSource.SMS_REPLY, clock.now(), "sms")
    out = await service.store.record_suppression(lead.id, clock.now(), "sms", {"reason": "回复TD"})
    assert out.opt_out_at == clock.now() and out.due_at is None
    assert [e.data for e in await service.store.events(lead.id) if e.kind == LeadEventKind.OPT_OUT] == [
        {"reason": "回复TD"}
    ]


async def test_unknown_lead_and_history_is_append_only(service: LeadService, sheet) -> None:
    with pytest.raises(LeadNotFound, match="lead 99 does not exist"):
        await service.store.record_contact(99, START, "x", Outcome.ANSWERED)
    await import_rows(service, sheet, [["张三", "13800138000", "", "", "", ""]])
    # One write each: on PostgreSQL a failed statement ends its transaction (a nested write would recover).
    for sql in ("UPDATE lead_events SET actor = 'x'", "DELETE FROM lead_events"):
        with pytest.raises(StoreError, match="append-only"):
            async with service.store._db.write() as tx:
                await tx.execute(sql)


async def test_due_lists_today_overdue_and_all(service: LeadService, sheet, clock: VirtualClock) -> None:
    # Clock: 2026-11-29 09:00 Beijing. Issued 2026-11-27 08:00 -> due 11-29 08:00 (overdue);
    # issued 11-27 20:00 -> due 11-29 20:00 (today); handed over now -> due 12-01 09:00 (later).
    await import_rows(
        service,
        sheet,
        [
            ["早", "13800138001", "2026-11-27 08:00", "", "", "王丽"],
            ["晚", "13800138002", "2026-11-27 20:00", "", "", "李强"],
        ],
    )
    await import_rows(
        service, sheet, [["后", "13800138003", "", "2026-11-29 09:00", "", "王丽"]], source=LeadSource.LOW_INTENT
    )
    names = lambda items: [(i.lead.name, i.overdue) for i in items]  # noqa: E731
    assert names(await service.due(DueScope.OVERDUE)) == [("早", True)]
    assert names(await service.due(DueScope.TODAY)) == [("早", True), ("晚", False)]
    assert names(await service.due(DueScope.ALL)) == [("早", True), ("晚", False), ("后", False)]
    assert names(await service.due(DueScope.ALL, owner="王丽")) == [("早", True), ("后", False)]
    clock.advance(12 * 3600)
    assert names(await service.due(DueScope.OVERDUE)) == [("早", True), ("晚", True)]


async def test_an_import_stores_every_lead_number_and_event_it_planned(service: LeadService, sheet) -> None:
    """Leads, numbers and events are written many rows to a statement, naming only the lead columns some
    lead of the file fills: 300 rows make several statements of each (the last part full), fields filled
    in some rows and empty in others, and every lead reads back as its row says."""
    rows = [
        [f"客户{i}", f"138{i:08d}", "2026-11-29 08:00" if i % 3 else "", "", "HABC"[i % 4] if i % 2 else "", ""]
        for i in range(300)
    ]
    headers = ["姓名", "手机", "下发时间", "移交时间", "意向级别", "负责人"]
    report = await service.importer.import_file(sheet("many.csv", headers, rows), actor="t", source=LeadSource.HQ)
    assert (report.created, report.rejected_rows) == (300, 0)
    issued = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    for i in range(300):
        lead = await service.store.find_by_phone(f"+86138{i:08d}")
        assert lead is not None and lead.name == f"客户{i}"
        assert lead.intent == (IntentLevel("HABC"[i % 4]) if i % 2 else None)
        assert lead.issued_at == (issued if i % 3 else None)
        assert (lead.owner, lead.handed_over_at, lead.note, lead.due_kind) == (None, None, None, "first_follow_up")
        [event] = await service.store.events(lead.id)
        assert (event.kind, event.data["row"], event.data["import_id"]) == ("created", i + 2, report.import_id)
