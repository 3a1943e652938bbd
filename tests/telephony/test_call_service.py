"""The call service against a scripted AMI: records, line limit, agent connect, crash recovery."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dialer.ami import events as ami
from dialer.ami.errors import AmiActionError, AmiTimeout
from dialer.clock import VirtualClock
from dialer.config import load
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.phone import normalize
from dialer.settings import Settings
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.telephony.calls import CallService
from dialer.telephony.lines import LinesBusy
from tests.telephony.fakes import FakeAmi

NUMBER = normalize("13800000001")

# Real time, not the virtual loop: the attempts are written by aiosqlite's worker thread, which the loop can only guess is done
# (tests/virtual_time.py), and a guess that fires a timeout early under CI load is a flaky test.
# Upper bound of every wait, in seconds: far past the service's own timers, so only a hang reaches it.
LIMIT_S = 60


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load(
        env={
            "DIALER__STORE__PATH": str(tmp_path / "d.sqlite3"),
            "DIALER__RECORDING__DIR": str(tmp_path / "rec"),
            "DIALER__PBX__OUTBOUND_LINES": "3",
            # Short: the ring and action timeouts pass in real time here.
            "DIALER__PBX__RING_TIMEOUT_S": "0.2",
            "DIALER__PBX__ACTION_TIMEOUT_S": "0.1",
        }
    )


@pytest.fixture
async def env(
    settings: Settings, db: Database, clock: VirtualClock
) -> AsyncIterator[tuple[CallService, FakeAmi, AttemptStore]]:
    fake = FakeAmi(clock)
    repo = AttemptStore(db)
    service = CallService(ami_client=fake, attempts=repo, settings=settings, clock=clock)
    async with routing(fake, service):
        yield service, fake, repo


async def route_all(fake: FakeAmi, service: CallService) -> None:
    async for event in fake.events():
        service.route(event)


@contextlib.asynccontextmanager
async def routing(fake: FakeAmi, service: CallService) -> AsyncIterator[None]:
    """The scripted PBX's events routed to ``service`` while the block runs."""
    router = asyncio.create_task(route_all(fake, service))
    try:
        yield
    finally:
        router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router


async def wait_for(predicate: Callable[[], object], what: str) -> None:
    """Poll ``predicate`` (state of the fake, which has no event to await) until it holds."""
    try:
        async with asyncio.timeout(LIMIT_S):
            while not predicate():  # noqa: ASYNC110 - the fake's lists have no event to await
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_attempt_is_committed_before_the_originate_is_sent(env) -> None:
    service, fake, repo = env
    seen: list = []

    async def check_row(fields) -> None:
        seen.append(await repo.get(fields["channel_id"]))
        fake.originate_error = AmiActionError("Originate", "test ends here")

    fake.on_originate = check_row
    attempt = await service.dial(NUMBER, agent="agent1")
    assert seen and seen[0] is not None and seen[0].state is CallState.PENDING
    assert attempt.outcome is Outcome.FAILED and "test ends here" in (attempt.detail or "")


async def test_originate_follows_the_telephony_contract(env, settings: Settings) -> None:
    service, fake, _repo = env
    task = asyncio.create_task(service.dial(NUMBER, agent="agent2"))
    await wait_for(lambda: fake.originates, "originate")
    sent = fake.originates[0]
    call_id = sent["channel_id"]
    assert sent["channel"] == "Local/13800000001@dcc-outbound/n"
    assert (sent["context"], sent["exten"], sent["priority"]) == ("dcc-answered", "s", 1)
    assert sent["other_channel_id"] == f"{call_id}-2"
    rec = Path(sent["variables"]["DCC_REC"])
    assert rec.is_absolute() and rec.name == f"{call_id}.wav" and rec.parent.is_dir()
    assert sent["variables"]["DCC_HOLD"] == "2"
    assert sent["variables"]["DCC_AMD"] == "0"  # off by default (region CN: docs/telephony.md)
    fake.play_answered_call(call_id)
    await wait_for(lambda: fake.redirects, "agent redirect")
    assert fake.redirects == [("Local/13800000001@dcc-outbound-1;1", "dcc-agent", "agent2", 1)]
    fake.finish_answered_call(call_id, agent="agent2", recording=str(rec))
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert attempt.outcome is Outcome.ANSWERED
    assert attempt.agent == "agent2" and attempt.recording == str(rec)
    assert attempt.answered_at and attempt.connected_at and attempt.ended_at
    assert attempt.direction is Direction.OUTBOUND and attempt.number == "+8613800000001"


@pytest.mark.parametrize(
    ("agent", "context", "exten", "outcome"),
    [("agent3", "dcc-agent", "agent3", Outcome.ANSWERED), (None, "dcc-machine", "s", Outcome.MACHINE)],
)
async def test_a_machine_verdict_goes_to_a_free_agent_and_is_ended_only_when_nobody_is_free(
    env, agent: str | None, context: str, exten: str, outcome: Outcome
) -> None:
    service, fake, _repo = env
    task = asyncio.create_task(service.dial(NUMBER, agent=agent))
    await wait_for(lambda: fake.originates, "originate")
    call_id = fake.originates[0]["channel_id"]
    fake.dial_begin(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust")
    fake.dial_end(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust", "ANSWER")
    fake.user_event(call_id, call_id, "DCCAmd", Status="MACHINE", Cause="LONGGREETING-1100-1100")
    fake.user_event(call_id, call_id, "DCCHold", channel="Local/13800000001@dcc-outbound-1;1", HoldMs="400")
    await wait_for(lambda: fake.redirects, "redirect")
    assert fake.redirects == [("Local/13800000001@dcc-outbound-1;1", context, exten, 1)]
    if agent is not None:
        fake.finish_answered_call(call_id, agent=agent)
    else:  # [dcc-machine] hangs up: no apology, no DCCAbandon
        fake.user_event(call_id, call_id, "DCCMachine")
        fake.hangup(call_id, "cust", 16)
        fake.hangup(call_id, call_id, 16)
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.agent, attempt.detail) == (outcome, agent, "amd=MACHINE")


async def test_busy_is_recorded_with_its_cause(env) -> None:
    service, fake, repo = env
    task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
    await wait_for(lambda: fake.originates, "originate")
    call_id = fake.originates[0]["channel_id"]
    fake.dial_begin(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust")
    fake.hangup(call_id, "cust", 17)
    fake.dial_end(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust", "BUSY")
    fake.originate_response(call_id, False, 0)
    fake.hangup(call_id, call_id, 17)
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.hangup_cause, attempt.dial_status) == (Outcome.BUSY, 17, "BUSY")
    assert (await repo.get(call_id)).outcome is Outcome.BUSY


async def test_never_more_calls_than_lines(env) -> None:
    service, fake, _repo = env
    tasks = [asyncio.create_task(service.dial(normalize(f"1380000000{i}"), agent="agent1")) for i in range(5)]
    await wait_for(lambda: len(fake.originates) == 3, "three originates")
    await asyncio.sleep(0.05)
    assert len(fake.originates) == 3 and service.lines.in_use == 3
    with pytest.raises(LinesBusy):
        await service.dial(NUMBER, agent="agent1", wait_for_line=False)
    # end the calls one by one; the waiting ones go out only as lines free up
    done = 0
    while done < 5:
        await wait_for(lambda n=done: len(fake.originates) > n, "next originate")
        call_id = fake.originates[done]["channel_id"]
        fake.hangup(call_id, call_id, 0)
        done += 1
    results = await asyncio.wait_for(asyncio.gather(*tasks), LIMIT_S)
    assert len(results) == 5 and service.lines.peak == 3 and service.lines.in_use == 0


async def test_unconfirmed_originate_is_never_resent_and_settles_unknown(env) -> None:
    service, fake, _repo = env
    fake.originate_error = AmiTimeout("no reply")
    attempt = await asyncio.wait_for(service.dial(NUMBER, agent="agent1"), LIMIT_S)
    assert len(fake.originates) == 1
    assert attempt.outcome is Outcome.UNKNOWN


async def test_call_gone_after_reconnect_is_closed_from_what_was_known(env) -> None:
    service, fake, _repo = env
    task, _call_id = await _connected_call(service, fake)
    fake.reconciled(())  # Asterisk restarted: nothing is live any more
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert attempt.outcome is Outcome.ANSWERED
    assert attempt.detail == "call vanished from the PBX"
    assert len(fake.originates) == 1


async def _connected_call(service: CallService, fake: FakeAmi) -> tuple[asyncio.Task[Attempt], str]:
    task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
    await wait_for(lambda: fake.originates, "originate")
    call_id = fake.originates[0]["channel_id"]
    fake.play_answered_call(call_id)
    agent_uid = f"{call_id}-agent"
    fake.dial_begin(call_id, call_id, "PJSIP/agent1-00000009", agent_uid)
    fake.dial_end(call_id, call_id, "PJSIP/agent1-00000009", agent_uid, "ANSWER")
    await wait_for(lambda: [c for c in service.live() if c.state is CallState.CONNECTED], "connected")
    return task, call_id


async def test_a_connected_call_a_periodic_snapshot_misses_ends_as_answered_after_the_grace(
    env, settings: Settings
) -> None:
    service, fake, _repo = env
    task, _call_id = await _connected_call(service, fake)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with capture_logs() as logs:
        fake.reconciled((), periodic=True)  # its Hangup never comes
        attempt = await asyncio.wait_for(task, LIMIT_S)
    assert loop.time() - started >= settings.pbx.action_timeout_s
    assert (attempt.outcome, attempt.agent, attempt.detail) == (
        Outcome.ANSWERED,
        "agent1",
        "call vanished from the PBX",
    )
    assert fake.looks == 1
    assert [e["detail"] for e in logs if e["event"] == "call ended"] == ["call vanished from the PBX"]


async def test_a_hangup_within_the_grace_wins_over_a_periodic_snapshot(env) -> None:
    service, fake, _repo = env
    task, call_id = await _connected_call(service, fake)
    fake.reconciled((), periodic=True)
    fake.hangup(call_id, f"{call_id}-cust", 16)
    fake.hangup(call_id, call_id, 16)
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.detail, attempt.hangup_cause) == (Outcome.ANSWERED, "amd=HUMAN", 16)


async def test_a_call_the_second_look_still_finds_is_not_ended(env, settings: Settings) -> None:
    service, fake, _repo = env
    task, call_id = await _connected_call(service, fake)
    fake.reconciled((), periodic=True)
    fake.channels = (_channel(call_id),)
    await asyncio.sleep(3 * settings.pbx.action_timeout_s)
    assert fake.looks == 1 and not task.done()
    fake.hangup(call_id, f"{call_id}-cust", 16)
    fake.hangup(call_id, call_id, 16)
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.detail) == (Outcome.ANSWERED, "amd=HUMAN")


async def test_a_periodic_snapshot_never_ends_a_call_still_being_originated(env, settings: Settings) -> None:
    service, fake, _repo = env
    sent = asyncio.Event()

    async def held(fields: object) -> None:
        await sent.wait()

    fake.on_originate = held
    task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
    await wait_for(lambda: fake.originates, "originate")
    fake.reconciled((), periodic=True)  # pending: the Originate has no reply yet
    await asyncio.sleep(3 * settings.pbx.action_timeout_s)
    assert [c.state for c in service.live()] == [CallState.PENDING]
    sent.set()
    await wait_for(lambda: [c for c in service.live() if c.state is CallState.ORIGINATING], "originating")
    fake.reconciled((), periodic=True)  # originating: Asterisk may not have made the channel yet
    await asyncio.sleep(3 * settings.pbx.action_timeout_s)
    assert [c.state for c in service.live()] == [CallState.ORIGINATING] and fake.looks == 0
    call_id = fake.originates[0]["channel_id"]
    fake.play_answered_call(call_id)
    fake.finish_answered_call(call_id)
    attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.detail) == (Outcome.ANSWERED, "amd=HUMAN")


@pytest.mark.parametrize(
    ("evidence", "outcome", "detail"),
    [(True, Outcome.NO_ANSWER, None), (False, Outcome.FAILED, None)],
    ids=["its-evidence-comes", "no-evidence-ever"],
)
async def test_a_periodic_look_never_cuts_short_the_wait_for_a_hang_ups_evidence(
    settings: Settings, db: Database, clock: VirtualClock, evidence: bool, outcome: Outcome, detail: str | None
) -> None:
    """A periodic snapshot misses a ring-out whose events are still on their way: our Local;1's Hangup (cause 0,
    which says nothing) comes after it, and the OriginateResponse and DialEnd that say "no answer" may follow up
    to one action_timeout_s later (AMI does not order the legs' events). The second look, one grace after the
    snapshot, lands inside that wait: it must not end the call as vanished (`unknown`); the evidence, or without
    it the machine's own bound (EvidenceOverdue), decides."""
    grace = 1.0  # room for the evidence to come between the second look and the machine's own bound
    settings = dataclasses.replace(settings, pbx=dataclasses.replace(settings.pbx, action_timeout_s=grace))
    fake = FakeAmi(clock)
    service = CallService(ami_client=fake, attempts=AttemptStore(db), settings=settings, clock=clock)
    async with routing(fake, service):
        with capture_logs() as logs:
            task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
            await wait_for(lambda: fake.originates, "originate")
            call_id = fake.originates[0]["channel_id"]
            fake.dial_begin(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust")
            fake.newstate(call_id, "cust", 5, "Ringing")
            await wait_for(lambda: [c for c in service.live() if c.state is CallState.RINGING], "ringing")
            looking, answer = _held_looks(fake)
            fake.reconciled((), periodic=True)  # the customer's phone rang out; no Hangup has reached us yet
            await asyncio.wait_for(looking.wait(), LIMIT_S)  # the second look, one grace later
            hung_up_at = clock.now()
            fake.hangup(call_id, call_id, 0)  # our own channel first: cause 0 says nothing, the machine waits
            await wait_for(fake.routed, "the hang-up routed")
            answer.set()  # and the fresh look misses the call too
            await wait_for(lambda: fake.looks == 1, "the second look answered")
            if evidence:
                fake.hangup(call_id, "cust", 16)
                fake.dial_end(call_id, f"{call_id}-2", "PJSIP/carrier-1", "cust", "CANCEL")
                fake.originate_response(call_id, False, 3)
            attempt = await asyncio.wait_for(task, LIMIT_S)
    assert (attempt.outcome, attempt.detail, attempt.ended_at) == (outcome, detail, hung_up_at)
    assert len(fake.originates) == 1
    # The call did not vanish: nothing may say so to the person reading the log.
    assert not [e for e in logs if e["log_level"] == "warning"]
    assert [e["detail"] for e in logs if e["event"] == "call ended"] == [detail]


def _held_looks(fake: FakeAmi) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold every ``core_show_channels`` until the second event is set; the first is set once one is asked."""
    looking, answer = asyncio.Event(), asyncio.Event()

    async def slow_look() -> None:
        looking.set()
        await answer.wait()

    fake.on_look = slow_look
    return looking, answer


async def _adopted_ringing_call(
    settings: Settings, db: Database, clock: VirtualClock
) -> tuple[AttemptStore, FakeAmi, CallService]:
    """A call the killed process had just originated (call id "ringing"), live at recovery and so adopted."""
    repo = AttemptStore(db)
    await repo.create(call_id="ringing", direction=Direction.OUTBOUND, number="+8613800000003", created_at=clock.now())
    await repo.mark_started("ringing", clock.now())
    fake = FakeAmi(clock)
    fake.channels = (_channel("ringing"),)
    service = CallService(ami_client=fake, attempts=repo, settings=settings, clock=clock)
    assert await service.recover() == []  # live: adopted, not closed
    return repo, fake, service


async def _ended(repo: AttemptStore, call_id: str) -> Attempt:
    """``call_id``'s attempt once it has an outcome (the store has no event to await)."""
    async with asyncio.timeout(LIMIT_S):
        while (attempt := await repo.get(call_id)) is None or attempt.outcome is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return attempt


def _channel(call_id: str) -> ami.ChannelInfo:
    return ami.ChannelInfo(
        channel="Local/13800000001@dcc-outbound-00000001;1", uniqueid=call_id, linkedid=call_id, channel_state=6,
        channel_state_desc="Up", caller_id_num="", caller_id_name="", context="dcc-answered", exten="s",
        priority=3, application="Dial", application_data="", duration_s=3, bridge_id="",
    )  # fmt: skip


async def test_recover_closes_attempts_a_crash_left_in_flight(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    repo = AttemptStore(db)
    await repo.create(call_id="dead", direction=Direction.OUTBOUND, number="+8613800000001", created_at=clock.now())
    await repo.mark_started("dead", clock.now())
    await repo.create(
        call_id="talking", direction=Direction.OUTBOUND, number="+8613800000002", created_at=clock.now(), agent="agent1"
    )
    await repo.mark_started("talking", clock.now())
    await repo.update_progress(
        "talking", state=CallState.CONNECTED, answered_at=clock.now(), connected_at=clock.now(), agent="agent1"
    )
    fake = FakeAmi(clock)
    service = CallService(ami_client=fake, attempts=repo, settings=settings, clock=clock)
    closed = await service.recover()
    by_id = {a.call_id: a for a in closed}
    assert by_id["dead"].outcome is Outcome.UNKNOWN
    assert by_id["talking"].outcome is Outcome.ANSWERED
    assert fake.originates == []
    assert await repo.in_flight() == []


async def test_an_adopted_originating_call_whose_channel_goes_unseen_is_settled_after_it_would_have_rung_out(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    """The crash drill on a loaded Asterisk 22: a call the killed process had just originated was live at
    recovery, then its end never reached the new process; it waited for a reconnect (4 minutes there)."""
    repo, fake, _service = await _adopted_ringing_call(settings, db, clock)
    fake.channels = ()  # gone, and no Hangup for it ever arrives
    attempt = await _ended(repo, "ringing")
    assert (attempt.outcome, attempt.detail) == (Outcome.UNKNOWN, "call vanished from the PBX")
    assert fake.originates == [] and await repo.in_flight() == []


async def test_the_check_of_an_adopted_originating_call_never_cuts_short_the_wait_for_a_hang_ups_evidence(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    """The same for the look once an adopted originating call would have rung out: it rang out just before,
    our Local;1's Hangup (cause 0) has come, its OriginateResponse (Reason 3, no answer) not yet."""
    grace = 1.0  # room for the evidence to come between the look and the machine's own bound
    settings = dataclasses.replace(settings, pbx=dataclasses.replace(settings.pbx, action_timeout_s=grace))
    repo, fake, service = await _adopted_ringing_call(settings, db, clock)
    looking, answer = _held_looks(fake)
    fake.channels = ()
    async with routing(fake, service):
        await asyncio.wait_for(looking.wait(), LIMIT_S)  # ring_timeout_s + action_timeout_s after the adoption
        hung_up_at = clock.now()
        fake.hangup("ringing", "ringing", 0)
        await wait_for(fake.routed, "the hang-up routed")
        answer.set()
        await wait_for(lambda: fake.looks == 2, "the look answered")
        fake.originate_response("ringing", False, 3)
        attempt = await _ended(repo, "ringing")
    assert (attempt.outcome, attempt.detail, attempt.ended_at) == (Outcome.NO_ANSWER, None, hung_up_at)
    assert fake.originates == []


async def test_disk_full_with_stop_recording_policy_still_calls_and_records_the_outcome(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    """Recording disk full: new calls go out unrecorded (DCC_REC empty), outcomes are still kept."""
    fake = FakeAmi(clock)
    repo = AttemptStore(db)
    service = CallService(
        ami_client=fake, attempts=repo, settings=settings, clock=clock, recording_allowed=lambda: False
    )
    async with routing(fake, service):
        task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
        await wait_for(lambda: fake.originates, "originate")
        sent = fake.originates[0]
        assert sent["variables"]["DCC_REC"] == ""
        call_id = sent["channel_id"]
        fake.play_answered_call(call_id)
        await wait_for(lambda: fake.redirects, "agent redirect")
        agent_uid = f"{call_id}-agent"
        fake.dial_begin(call_id, call_id, "PJSIP/agent1-00000007", agent_uid)
        fake.dial_end(call_id, call_id, "PJSIP/agent1-00000007", agent_uid, "ANSWER")
        fake.hangup(call_id, f"{call_id}-cust", 16)
        fake.hangup(call_id, call_id, 16)
        attempt = await asyncio.wait_for(task, LIMIT_S)
    assert attempt.outcome is Outcome.ANSWERED and attempt.recording is None
    assert (await repo.get(call_id)).outcome is Outcome.ANSWERED


async def test_drain_waits_for_the_after_call_hooks(settings: Settings, db: Database, clock: VirtualClock) -> None:
    # Closing the app right after a call must not cut its hooks short (a recording left unregistered).
    release = asyncio.Event()
    seen: list[str] = []

    async def hook(attempt: Attempt) -> None:
        await release.wait()
        seen.append(attempt.call_id)

    fake = FakeAmi(clock)
    service = CallService(ami_client=fake, attempts=AttemptStore(db), settings=settings, clock=clock, after_call=[hook])
    async with routing(fake, service):
        task = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
        await wait_for(lambda: fake.originates, "originate")
        call_id = fake.originates[0]["channel_id"]
        fake.originate_response(call_id, False, 0)
        fake.hangup(call_id, call_id, 17)
        await asyncio.wait_for(task, LIMIT_S)
        drained = asyncio.create_task(service.drain())
        await asyncio.sleep(0.05)
        assert not drained.done() and seen == []
        release.set()
        await asyncio.wait_for(drained, LIMIT_S)
        assert seen == [call_id]


async def test_a_manual_call_adopted_after_a_restart_is_still_read_agent_first(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    """A manual call names its agent from the start; after a restart its live legs are read as when placed:
    the call's own DialEnd is the customer's answer (which read as an agent leg's would leave it unanswered)."""
    repo = AttemptStore(db)
    await repo.create(call_id="manual", direction=Direction.OUTBOUND, number="+8613800000001",
                      created_at=clock.now(), agent="agent1")  # fmt: skip
    await repo.mark_started("manual", clock.now())
    fake = FakeAmi(clock)
    fake.channels = (ami.ChannelInfo(
        channel="PJSIP/agent1-00000001", uniqueid="manual", linkedid="manual", channel_state=6,
        channel_state_desc="Up", caller_id_num="", caller_id_name="", context="dcc-manual", exten="13800000001",
        priority=7, application="Dial", application_data="", duration_s=3, bridge_id="",
    ),)  # fmt: skip
    service = CallService(ami_client=fake, attempts=repo, settings=settings, clock=clock)
    async with routing(fake, service):
        assert await service.recover() == []  # adopted: still live in the PBX
        fake.dial_begin("manual", "manual", "PJSIP/carrier-00000002", "cust")
        fake.dial_end("manual", "manual", "PJSIP/carrier-00000002", "cust", "ANSWER")
        fake.hangup("manual", "cust", 16)
        fake.hangup("manual", "manual", 16)
        await wait_for(lambda: not service.live(), "the adopted call to end")
    done = await repo.get("manual")
    assert done is not None and (done.outcome, done.agent) == (Outcome.ANSWERED, "agent1")
    assert done.answered_at is not None and done.connected_at is not None


async def test_a_service_stopped_while_its_record_updates_wait_leaves_no_update_unawaited(
    settings: Settings, db: Database, clock: VirtualClock
) -> None:
    # A node stopping mid-call cancels the call's queue of record updates; an update made at queue
    # time instead of at its turn was then a coroutine never awaited (a RuntimeWarning at shutdown).
    stuck = asyncio.Event()

    class SlowStore(AttemptStore):
        async def mark_started(self, call_id: str, at: datetime) -> None:
            await stuck.wait()  # the store's writer is busy: every later update queues behind this one

    fake = FakeAmi(clock)
    service = CallService(ami_client=fake, attempts=SlowStore(db), settings=settings, clock=clock)
    router = asyncio.create_task(route_all(fake, service))
    call = asyncio.create_task(service.dial(NUMBER, agent="agent1"))
    await wait_for(lambda: fake.originates, "originate")
    fake.play_answered_call(fake.originates[0]["channel_id"])
    await wait_for(lambda: fake.redirects, "agent redirect")  # the answer's progress update is queued by now
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # what asyncio.run does to the tasks left at shutdown
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        assert router in pending and call in pending
        del pending, call, router
        for _ in range(3):  # the loop drops a finished task's last step one turn later
            await asyncio.sleep(0)
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
