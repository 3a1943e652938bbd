"""The hopper: each skipping rule (and its "why" line), priority order, callbacks, claims, retries."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from dialer.campaigns.hopper import Hopper
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.lifecycle import Command
from dialer.domain.campaigns.policy import PriorityTier, RetryReason
from dialer.domain.campaigns.progress import NotEnrolled, PickReason, ProgressStatus
from dialer.domain.leads.model import LeadSource, LeadState
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.settings import PrivacySettings, Settings
from dialer.store.campaigns import CampaignStore
from dialer.store.connection import Params, Row
from dialer.store.database import Database
from dialer.store.sms import SmsStore
from dialer.store.sqlite import SqliteConnection
from tests.conftest import POSTGRESQL_ONLY, SQLITE_ONLY

from .conftest import PHONES, World, local, reasons


async def picked(w: World, campaign_id: int, n: int = 10) -> list[int]:
    return [p.lead_id for p in await w.hopper.next_batch(campaign_id, n, w.clock.now())]


async def test_a_due_lead_is_picked_with_its_number_and_claimed(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    (pick,) = await world.hopper.next_batch(c.id, 5, world.clock.now())
    assert (pick.lead_id, pick.phone.e164, pick.reason) == (lead, PHONES[1], PickReason.DEADLINE)
    assert await picked(world, c.id) == []  # claimed: not handed out again
    assert reasons(await world.service.why(lead, c.id)) == {"claimed"}


async def test_opted_out_lead_is_skipped(world: World) -> None:
    kept, opted = await world.lead(PHONES[1]), await world.lead(PHONES[2])
    c = await world.campaign()
    await world.suppressions.add_lead(opted, "不要再打", SuppressionSource.CALL, world.clock.now(), "agent1")
    assert (await world.store.counts(c.id, world.clock.now())).dialable == 1
    assert await picked(world, c.id) == [kept]
    assert "suppressed" in reasons(await world.service.why(opted, c.id))


@pytest.mark.parametrize("settings", [Settings(privacy=PrivacySettings(consent_required_for=("calls",)))])
async def test_consent_is_enforced_for_calls_when_the_config_requires_it(world: World) -> None:
    yes = await world.lead(PHONES[1], consent=True)
    unknown, no = await world.lead(PHONES[2]), await world.lead(PHONES[3], consent=False)
    c = await world.campaign()
    assert await picked(world, c.id) == [yes]
    assert "no_consent" in reasons(await world.service.why(unknown, c.id))
    assert "no_consent" in reasons(await world.service.why(no, c.id))
    assert "no_consent" not in reasons(await world.service.why(yes, c.id))


async def test_consent_is_not_enforced_by_default(world: World) -> None:
    lead = await world.lead(PHONES[1], consent=False)
    c = await world.campaign()
    assert await picked(world, c.id) == [lead]


async def test_dnc_number_is_skipped_and_another_number_of_the_lead_is_used(world: World) -> None:
    only = await world.lead(PHONES[1])
    two = await world.lead(PHONES[2], extra_phones=(PHONES[3],))
    c = await world.campaign()
    for number in (PHONES[1], PHONES[2]):
        await world.suppressions.add(number, "投诉", SuppressionSource.CONSOLE, world.clock.now(), "supervisor")
    (pick,) = await world.hopper.next_batch(c.id, 10, world.clock.now())
    assert (pick.lead_id, pick.phone.e164) == (two, PHONES[3])
    assert "suppressed" in reasons(await world.service.why(only, c.id))
    assert await world.suppressions.lift(PHONES[1], "客户同意回访", world.clock.now(), "supervisor")
    assert await picked(world, c.id) == [only]


async def test_nothing_is_picked_outside_the_calling_window(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(windows={"mon": "09:00-12:00"})
    world.clock.set(local(30, 12, 30))
    assert await picked(world, c.id) == []
    (answer,) = await world.service.why(lead, c.id)
    assert [b.reason.value for b in answer.blockers] == ["window_closed"]
    assert answer.blockers[0].params["opens"] == "2026-12-01 09:00"  # Tuesday uses the default window


async def test_lead_with_a_call_in_flight_is_skipped(world: World) -> None:
    busy, free = await world.lead(PHONES[1]), await world.lead(PHONES[2])
    c = await world.campaign()
    await world.call(busy, campaign_id=c.id)  # e.g. the agent dialled by hand; no outcome yet
    assert await picked(world, c.id) == [free]
    assert "in_call" in reasons(await world.service.why(busy, c.id))


async def test_lead_dialled_too_recently_waits_for_its_retry_time(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    assert await picked(world, c.id) == [lead]
    attempt = await world.call(lead, c.id, Outcome.BUSY)
    progress = await world.hopper.record_result(c.id, lead, attempt, Outcome.BUSY, world.clock.now())
    assert progress.next_attempt_at == world.clock.now() + timedelta(minutes=10)  # RetryDefaults.busy
    world.clock.advance(9 * 60)
    assert await picked(world, c.id) == []
    assert reasons(await world.service.why(lead, c.id)) == {"too_recent"}
    world.clock.advance(60)
    assert await picked(world, c.id) == [lead]


async def test_lead_over_max_attempts_is_done(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(retry={"max_attempts": 2, "no_answer": "1m"})
    for _ in range(2):
        assert await picked(world, c.id) == [lead]
        progress = await world.hopper.record_result(c.id, lead, None, Outcome.NO_ANSWER, world.clock.now())
        world.clock.advance(120)
    assert (progress.status, progress.last_reason) == (ProgressStatus.DONE, RetryReason.EXHAUSTED)
    assert await picked(world, c.id) == []
    assert reasons(await world.service.why(lead, c.id)) == {"max_attempts"}


async def test_daily_cap_holds_even_for_an_agreed_callback_the_same_day(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(retry={"max_attempts_per_day": 1})
    assert await picked(world, c.id) == [lead]
    await world.hopper.record_result(c.id, lead, None, Outcome.ANSWERED, world.clock.now())
    await world.leads.change_state(
        lead, LeadState.FOLLOWING, world.clock.now(), "agent2", callback_at=local(30, 15, 30)
    )
    world.clock.set(local(30, 15, 30))
    assert await picked(world, c.id) == []
    assert "max_per_day" in reasons(await world.service.why(lead, c.id))
    world.clock.set(local(31, 9, 0))  # next day: the callback is still owed
    assert await picked(world, c.id) == [lead]


async def test_busy_near_closing_and_day_limit_move_to_the_next_window(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(retry={"max_attempts_per_day": 2})
    world.clock.set(local(30, 19, 50))
    progress = await world.hopper.record_result(c.id, lead, None, Outcome.BUSY, world.clock.now())
    # 19:50 + 10 min is past the last start (20:00 minus the 5-minute margin): next morning.
    assert progress.next_attempt_at == local(31, 9, 0)
    world.clock.set(local(31, 9, 0))
    await world.hopper.record_result(c.id, lead, None, Outcome.BUSY, world.clock.now())
    progress = await world.hopper.record_result(c.id, lead, None, Outcome.BUSY, world.clock.now())
    assert (progress.last_reason, progress.next_attempt_at) == (RetryReason.DAY_LIMIT, local(32, 9, 0))


async def test_record_result_applies_each_outcome_rule(world: World) -> None:
    c = await world.campaign(start=False)
    ids = {o: await world.lead(PHONES[i + 1]) for i, o in enumerate(Outcome)}
    await world.service.command(c.id, Command.START, "tester")
    now = world.clock.now()
    results = {o: await world.hopper.record_result(c.id, lead, None, o, now) for o, lead in ids.items()}
    assert results[Outcome.NO_ANSWER].next_attempt_at == now + timedelta(hours=2)
    assert results[Outcome.MACHINE].next_attempt_at == now + timedelta(hours=4)
    assert results[Outcome.REJECTED].next_attempt_at == local(31, 9, 0)
    assert results[Outcome.ABANDONED].promised and results[Outcome.ABANDONED].next_attempt_at == now + timedelta(
        minutes=10
    )
    for final in (Outcome.ANSWERED, Outcome.VACANT):
        assert (results[final].status, results[final].last_reason) == (ProgressStatus.DONE, RetryReason.NEVER)
    assert all(r.attempts == 1 and r.last_outcome is o for o, r in results.items())


async def test_hq_lead_near_its_48h_limit_goes_before_a_base_customer(world: World) -> None:
    base = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER)
    fresh_hq = await world.lead(PHONES[2], issued_at=world.clock.now() - timedelta(hours=1))
    urgent_hq = await world.lead(PHONES[3], issued_at=world.clock.now() - timedelta(hours=45))
    c = await world.campaign(filter={"sources": ["hq", "base_customer"]})
    picks = await world.hopper.next_batch(c.id, 10, world.clock.now())
    assert [p.lead_id for p in picks] == [urgent_hq, fresh_hq, base]
    assert [p.priority for p in picks] == [PriorityTier.URGENT_DEADLINE, PriorityTier.DEADLINE, PriorityTier.ROUTINE]


async def test_batch_takes_the_best_even_when_small(world: World) -> None:
    routine = [await world.lead(PHONES[i], LeadSource.BASE_CUSTOMER) for i in range(1, 6)]
    urgent = await world.lead(PHONES[9], issued_at=world.clock.now() - timedelta(hours=47))
    c = await world.campaign(filter={"sources": ["hq", "base_customer"]})
    assert await picked(world, c.id, 1) == [urgent]
    assert await picked(world, c.id, 2) == routine[:2]


async def test_callback_is_due_at_its_time_for_the_agent_who_agreed_it(world: World) -> None:
    first, other = (
        await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER),
        await world.lead(PHONES[2], LeadSource.BASE_CUSTOMER),
    )
    c = await world.campaign(kind="repurchase")
    assert await picked(world, c.id, 1) == [first]
    await world.hopper.record_result(c.id, first, None, Outcome.ANSWERED, world.clock.now())
    await world.leads.change_state(
        first, LeadState.FOLLOWING, world.clock.now(), "agent7", callback_at=local(31, 15, 30)
    )
    world.clock.set(local(31, 15, 29))
    assert reasons(await world.service.why(first, c.id)) == {"too_recent"}
    world.clock.set(local(31, 15, 30))
    picks = await world.hopper.next_batch(c.id, 10, world.clock.now())
    assert next((p.lead_id, p.owner, p.reason, p.priority) for p in picks) == (
        first,
        "agent7",
        PickReason.CALLBACK,
        PriorityTier.PROMISED,
    )
    assert [p.lead_id for p in picks] == [first, other]


async def test_unanswered_callback_stays_a_promise_for_the_same_agent(world: World) -> None:
    lead = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER)
    c = await world.campaign(kind="repurchase")
    await world.leads.change_state(
        lead, LeadState.FOLLOWING, world.clock.now(), "agent7", callback_at=world.clock.now()
    )
    (_pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    progress = await world.hopper.record_result(c.id, lead, None, Outcome.NO_ANSWER, world.clock.now())
    assert (progress.promised, progress.callback_owner) == (True, "agent7")
    world.clock.set(progress.next_attempt_at)
    (again,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    assert (again.lead_id, again.owner) == (lead, "agent7")


async def test_concurrent_batches_never_share_a_lead(world: World, store_target: str | Path) -> None:
    leads = [await world.lead(PHONES[i]) for i in range(1, 41)]
    c = await world.campaign()
    # A second Database on the same store behaves like a second process: its own connections and lock.
    other = await Database.open(store_target, clock=world.clock)
    try:
        hopper2 = Hopper(CampaignStore(other, world.settings), world.settings)
        now = world.clock.now()
        batches = await asyncio.gather(
            *(h.next_batch(c.id, 7, now) for h in (world.hopper, hopper2, world.hopper, hopper2, world.hopper, hopper2))
        )
    finally:
        await other.close()
    ids = [p.lead_id for batch in batches for p in batch]
    assert len(ids) == len(set(ids)) == 40
    assert set(ids) == set(leads)


async def test_lead_claimed_by_another_campaign_is_skipped(world: World) -> None:
    lead = await world.lead(PHONES[1])
    a, b = await world.campaign(), await world.campaign(name="第二个活动")
    assert await picked(world, a.id) == [lead]
    assert await picked(world, b.id) == []
    assert reasons(await world.service.why(lead, b.id)) == {"claimed"}


async def test_release_puts_a_pick_back_without_counting_an_attempt(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    await picked(world, c.id)
    assert await world.hopper.release(c.id, lead)
    assert not await world.hopper.release(c.id, lead)
    assert await picked(world, c.id) == [lead]
    assert (await world.service.why(lead, c.id))[0].blockers[0].reason.value == "claimed"


async def test_recover_settles_ended_releases_undialled_and_keeps_live_claims(world: World) -> None:
    ended, undialled, live = [await world.lead(PHONES[i]) for i in (1, 2, 3)]
    c = await world.campaign()
    assert len(await picked(world, c.id)) == 3
    world.clock.advance(5)
    await world.call(ended, c.id, Outcome.NO_ANSWER)
    await world.call(live, c.id)
    recovery = await world.hopper.recover(c.id, world.clock.now())
    assert (recovery.settled, recovery.released, recovery.in_flight) == (1, 1, 1)
    assert await picked(world, c.id) == [undialled]
    progress = (await world.service.why(ended, c.id))[0]
    assert {b.reason.value for b in progress.blockers} == {"too_recent"}


async def test_paused_campaign_picks_nothing_and_says_so(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    await world.service.command(c.id, Command.PAUSE, "supervisor")
    assert await picked(world, c.id) == []
    assert reasons(await world.service.why(lead, c.id)) == {"campaign_not_running"}
    await world.service.command(c.id, Command.RESUME, "supervisor")
    assert await picked(world, c.id) == [lead]


async def test_lead_outside_the_filter_is_not_enrolled(world: World) -> None:
    web = await world.lead(PHONES[1], LeadSource.WEB)
    c = await world.campaign()
    assert await picked(world, c.id) == []
    assert reasons(await world.service.why(web, c.id)) == {"not_enrolled"}
    assert await world.service.why(web) == []  # in no campaign at all


async def test_filter_by_car_age_and_last_contact(world: World) -> None:
    old = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER, purchase_date=date(2020, 6, 1))
    await world.lead(PHONES[2], LeadSource.BASE_CUSTOMER, purchase_date=date(2025, 6, 1))
    await world.lead(PHONES[3], LeadSource.BASE_CUSTOMER, purchase_date=date(2012, 6, 1))
    contacted = await world.lead(PHONES[4], LeadSource.BASE_CUSTOMER, purchase_date=date(2021, 1, 1))
    await world.leads.record_contact(contacted, world.clock.now(), "agent1", Outcome.ANSWERED)
    c = await world.campaign(
        kind="repurchase", filter={"car_age_min_years": 3, "car_age_max_years": 8, "not_contacted_days": 30}
    )
    assert await picked(world, c.id) == [old]


async def test_why_lists_every_reason_that_applies_in_chinese(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(windows={"mon": "09:00-09:30"})
    await world.suppressions.add(PHONES[1], "投诉", SuppressionSource.CONSOLE, world.clock.now(), "supervisor")
    await world.service.command(c.id, Command.PAUSE, "supervisor")
    (answer,) = await world.service.why(lead, c.id)
    assert [b.reason.value for b in answer.blockers] == ["campaign_not_running", "suppressed", "window_closed"]
    texts = [b.text("zh-CN") for b in answer.blockers]
    assert texts[1] == "线索的所有号码都在勿扰名单中：+86138****0001 2026-11-30 10:00 控制台 supervisor: 投诉"
    assert texts[2] == "当前不在允许外呼的时段，2026-12-01 09:00 开放"


async def test_sms_hand_offs_join_the_ranking_interested_repliers_first(world: World) -> None:
    routine, handed, interested = [await world.lead(PHONES[i], LeadSource.BASE_CUSTOMER) for i in (1, 2, 3)]
    c = await world.campaign(kind="repurchase")
    assert await picked(world, c.id) == [routine, handed, interested]
    now = world.clock.now()
    for lead in (routine, handed, interested):
        await world.hopper.record_result(c.id, lead, None, Outcome.ANSWERED, now)  # done in this campaign
    sms = SmsStore(world.db)
    later = now + timedelta(minutes=30)
    await sms.add_call_tasks([(handed, 10, "cadence_handoff"), (interested, 100, "sms_interested")], later, None, now)
    assert await picked(world, c.id) == []  # hand-offs are due from their due_at on
    assert reasons(await world.service.why(handed, c.id)) == {"too_recent"}
    world.clock.set(later)
    picks = await world.hopper.next_batch(c.id, 10, world.clock.now())
    assert [(p.lead_id, p.reason) for p in picks] == [
        (interested, PickReason.SMS_INTERESTED),
        (handed, PickReason.SMS_HANDOFF),
    ]
    assert await sms.call_tasks() == []  # taken by the campaign


async def test_callback_agreed_before_enrolment_is_kept(world: World) -> None:
    later = world.clock.now() + timedelta(hours=2)
    lead = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER, callback_at=later, owner="顾问甲")
    c = await world.campaign(kind="repurchase")
    assert await picked(world, c.id) == []
    world.clock.set(later)
    (pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    assert (pick.lead_id, pick.reason, pick.owner, pick.priority) == (
        lead,
        PickReason.CALLBACK,
        "顾问甲",
        PriorityTier.PROMISED,
    )


async def test_callback_agreed_while_claimed_is_applied_after_the_result(world: World) -> None:
    lead = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER)
    c = await world.campaign(kind="repurchase")
    assert await picked(world, c.id) == [lead]
    await world.leads.change_state(lead, LeadState.FOLLOWING, world.clock.now(), "agent3", callback_at=local(31, 11, 0))
    assert await picked(world, c.id) == []  # still claimed: the sync leaves the callback for later
    await world.hopper.record_result(c.id, lead, None, Outcome.ANSWERED, world.clock.now())
    world.clock.set(local(31, 11, 0))
    (pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    assert (pick.lead_id, pick.owner, pick.reason) == (lead, "agent3", PickReason.CALLBACK)


async def test_result_for_a_lead_the_campaign_never_enrolled_is_refused(world: World) -> None:
    web = await world.lead(PHONES[1], LeadSource.WEB)
    c = await world.campaign()
    with pytest.raises(NotEnrolled, match=f"campaign {c.id}: lead {web} is not enrolled"):
        await world.hopper.record_result(c.id, web, None, Outcome.BUSY, world.clock.now())
    assert await world.hopper.next_batch(c.id, 0, world.clock.now()) == []


async def test_attempt_cap_holds_even_for_an_agreed_callback(world: World) -> None:
    lead = await world.lead(PHONES[1])
    c = await world.campaign(retry={"max_attempts": 1})
    assert await picked(world, c.id) == [lead]
    await world.hopper.record_result(c.id, lead, None, Outcome.ANSWERED, world.clock.now())
    await world.leads.change_state(
        lead, LeadState.FOLLOWING, world.clock.now(), "agent2", callback_at=world.clock.now()
    )
    assert await picked(world, c.id) == []
    assert reasons(await world.service.why(lead, c.id)) == {"max_attempts"}


async def test_reactivated_lead_gets_its_new_deadline_in_the_ranking(world: World) -> None:
    routine = [await world.lead(PHONES[i], LeadSource.BASE_CUSTOMER) for i in range(1, 4)]
    lost = await world.lead(PHONES[9], LeadSource.BASE_CUSTOMER)  # no deadline when enrolled
    c = await world.campaign(kind="repurchase", filter={"states": ["new", "reactivated"]})
    await world.leads.change_state(lost, LeadState.DEFEATED, world.clock.now(), "sales", defeat_reason="价格")
    assert lost not in await picked(world, c.id)  # closed
    for lead in routine:
        await world.hopper.release(c.id, lead)
    world.clock.advance(3600)
    await world.leads.change_state(lost, LeadState.REACTIVATED, world.clock.now(), "sales")
    world.clock.advance(47 * 3600)  # the 2-day hand-over deadline is an hour away
    (pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    assert (pick.lead_id, pick.priority, pick.reason) == (lost, PriorityTier.URGENT_DEADLINE, PickReason.DEADLINE)


async def test_callback_filled_in_by_a_re_import_is_scheduled(world: World) -> None:
    lead = await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER, owner="顾问乙")
    c = await world.campaign(kind="repurchase")
    assert await picked(world, c.id) == [lead]
    await world.hopper.record_result(c.id, lead, None, Outcome.ANSWERED, world.clock.now())
    later = world.clock.now() + timedelta(hours=3)
    assert await world.lead(PHONES[1], LeadSource.BASE_CUSTOMER, owner="顾问乙", callback_at=later) == lead
    assert reasons(await world.service.why(lead, c.id)) == {"too_recent"}
    world.clock.set(later)
    (pick,) = await world.hopper.next_batch(c.id, 1, world.clock.now())
    assert (pick.lead_id, pick.reason, pick.owner) == (lead, PickReason.CALLBACK, "顾问乙")


async def test_a_campaign_paused_between_two_batches_is_seen_by_the_claim_itself(world: World) -> None:
    """The hopper reads a campaign's definition once; its status is read by every claim's transaction."""
    first, second = await world.lead(PHONES[1]), await world.lead(PHONES[2])
    c = await world.campaign()
    assert await picked(world, c.id, 1) == [first]
    await world.store.transition(c.id, Command.PAUSE, world.clock.now(), "supervisor")  # not through this hopper
    assert await picked(world, c.id, 1) == []
    await world.store.transition(c.id, Command.RESUME, world.clock.now(), "supervisor")
    assert await picked(world, c.id, 1) == [second]


@POSTGRESQL_ONLY
async def test_postgresql_stops_planning_the_due_query_for_every_claim(world: World) -> None:
    """Planning it for every claim was most of a claim's time at 1M leads (docs/bench.md): after its
    first five runs on a connection the server keeps one plan for the statement."""
    lead = await world.lead(PHONES[1])
    c = await world.campaign()
    assert [await picked(world, c.id, 1) for _ in range(10)] == [[lead]] + [[]] * 9  # each runs the due query
    async with world.db.write() as tx:  # the writer: the connection the claims ran on
        plans = await tx.fetchall(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%UNION ALL%'"
        )
    # The claims' statement (the most run): planned for its first five runs, then its one plan reused.
    assert max((p["generic_plans"] + p["custom_plans"], p["custom_plans"]) for p in plans) == (10, 5)


@SQLITE_ONLY
async def test_a_claim_reads_its_campaign_row_in_one_trip_to_sqlites_thread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``fetchone`` costs three trips to an aiosqlite connection's thread (run, fetch, close); each trip
    is a thread waking up, which on a busy machine waits for a core (bench/hopper.py). A claim has one
    row to read, the campaign's marks, and reads it with one ``fetchall``: 11 trips became 9."""
    await world.lead(PHONES[1])
    await world.lead(PHONES[2])
    c = await world.campaign()
    fetchone = SqliteConnection.fetchone
    during_claims: list[str] = []

    async def counted(self: SqliteConnection, sql: str, params: Params = ()) -> Row | None:
        during_claims.append(sql)
        return await fetchone(self, sql, params)

    assert len(await world.hopper.next_batch(c.id, 1, world.clock.now())) == 1  # reads the definition, once
    monkeypatch.setattr(SqliteConnection, "fetchone", counted)
    assert len(await world.hopper.next_batch(c.id, 1, world.clock.now())) == 1
    assert during_claims == []
