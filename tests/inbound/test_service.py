"""The inbound service against a scripted PBX and a real store: what it tells the PBX, what it records."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialer.ami import events as ami
from dialer.ami.errors import AmiLinkDown
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.leads.deadlines import DueRules
from dialer.domain.leads.model import Lead, LeadPhone, LeadSource, PhoneKind
from dialer.domain.leads.records import ImportSource
from dialer.domain.leads.template import LeadDraft
from dialer.events.bus import EventBus
from dialer.inbound.service import InboundCallEnded, InboundService, ScreenPop
from dialer.settings import InboundSettings, PbxSettings, Settings, WindowDefaults
from dialer.store.attempts import AttemptStore
from dialer.store.database import Database
from dialer.store.leads import LeadStore

# Friday 10:00 in Shanghai; the DCC closes at 20:00 and is closed on Sundays.
OPEN = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
LATE = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
SATURDAY_OPEN = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
CHANNEL = "PJSIP/inbound-trunk-00000001"
GRACE_S = 0.2


class ScriptedPbx:
    """The AMI port of the inbound service: records Setvars, fails on request."""

    def __init__(self) -> None:
        self.vars: dict[str, dict[str, str]] = {}
        self.setvar_error: Exception | None = None
        self.setvar_gate: asyncio.Event | None = None  # set: each Setvar waits for it (a slow PBX)
        self.channels: tuple[ami.ChannelInfo, ...] = ()
        self.looks = 0

    async def setvar(self, channel: str, name: str, value: str) -> None:
        if self.setvar_gate is not None:
            await self.setvar_gate.wait()
        if self.setvar_error is not None:
            raise self.setvar_error
        self.vars.setdefault(channel, {})[name] = value

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]:
        self.looks += 1
        return self.channels


def caller_channel(uid: str) -> ami.ChannelInfo:
    return ami.ChannelInfo(
        channel=CHANNEL, uniqueid=uid, linkedid=uid, channel_state=6, channel_state_desc="Up", caller_id_num="",
        caller_id_name="", context="dcc-inbound", exten="s", priority=9, application="Queue", application_data="",
        duration_s=10, bridge_id="",
    )  # fmt: skip


class Env:
    def __init__(self, service: InboundService, pbx: ScriptedPbx, clock: VirtualClock, leads: LeadStore,
                 attempts: AttemptStore, bus: EventBus, recorded: list[Any]) -> None:  # fmt: skip
        self.service, self.pbx, self.clock, self.leads, self.attempts = service, pbx, clock, leads, attempts
        self.pops = bus.subscribe(ScreenPop)
        self.ended = bus.subscribe(InboundCallEnded)
        self.recorded = recorded

    def _chan(self, uid: str, caller: str) -> dict[str, Any]:
        return {"at": self.clock.now(), "channel": CHANNEL, "uniqueid": uid, "linkedid": uid,
                "caller_id_num": caller, "caller_id_name": ""}  # fmt: skip

    def arrive(self, uid: str, caller: str) -> None:
        self.service.route(
            ami.UserEvent(**self._chan(uid, caller), user_event="DCCInbound", fields=(("Caller", caller),))
        )

    def busy(self, uid: str, caller: str) -> None:
        self.service.route(
            ami.UserEvent(**self._chan(uid, caller), user_event="DCCInboundBusy", fields=(("Caller", caller),))
        )

    def missed(self, uid: str, route: str, queue: str) -> None:
        self.service.route(
            ami.UserEvent(
                **self._chan(uid, ""), user_event="DCCInboundMissed", fields=(("Route", route), ("Queue", queue))
            )
        )

    def connect(self, uid: str, agent: str) -> None:
        self.service.route(
            ami.DialEnd(
                **self._chan(uid, ""), dest_channel=f"PJSIP/{agent}-0000000a", dest_uniqueid="x", dial_status="ANSWER"
            )
        )

    def recording(self, uid: str, path: str) -> None:
        self.service.route(ami.VarSet(**self._chan(uid, ""), variable="MIXMONITOR_FILENAME", value=path))

    def hangup(self, uid: str, cause: int = 16) -> None:
        self.service.route(ami.Hangup(**self._chan(uid, ""), cause=cause, cause_txt=""))

    def periodic_snapshot(self, *uids: str) -> None:
        channels = tuple(caller_channel(uid) for uid in uids)
        self.service.route(ami.Reconciled(at=self.clock.now(), channels=channels, periodic=True))

    async def add_lead(self, e164: str, owner: str | None) -> Lead:
        draft = LeadDraft(
            row=1, name="李女士", phones=(LeadPhone(e164, PhoneKind.MOBILE),), source=LeadSource.WEB, owner=owner
        )
        src = ImportSource(f"seed {e164}", hashlib.sha256(e164.encode()).hexdigest(), LeadSource.WEB, 1, "phone")
        return (await self.leads.import_drafts([draft], [], src, "test")).plan.created[0]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = Settings(
        base_dir=str(tmp_path),
        inbound=InboundSettings(hours=WindowDefaults(sun="", last_call_margin_s=0.0)),
        pbx=PbxSettings(action_timeout_s=GRACE_S),  # real time here: the grace after a periodic snapshot
    )
    clock = VirtualClock(OPEN)
    db = await Database.open(tmp_path / "db.sqlite3", clock=clock)
    try:
        attempts = AttemptStore(db)
        leads = LeadStore(db, DueRules(settings.leads, ZoneInfo(settings.dealer.timezone)), clock)
        pbx, bus, recorded = ScriptedPbx(), EventBus(), []

        async def after_call(attempt: Any) -> None:
            recorded.append(attempt)

        service = InboundService(
            ami_client=pbx, attempts=attempts, leads=leads, bus=bus, settings=settings, clock=clock,
            recording_path=lambda call_id: tmp_path / "rec" / f"{call_id}.wav", after_call=(after_call,),
        )  # fmt: skip
        yield Env(service, pbx, clock, leads, attempts, bus, recorded)
    finally:
        await db.close()


async def test_a_known_caller_rings_the_owner_and_pops_the_lead_on_the_answering_phone(
    env: Env, tmp_path: Path
) -> None:
    lead = await env.add_lead("+8613900000002", owner="agent2")
    env.arrive("1.1", "13900000002")
    env.recording("1.1", str(tmp_path / "rec" / "1.1.wav"))
    env.connect("1.1", "agent2")
    env.hangup("1.1")
    await env.service.drain()

    assert env.pbx.vars[CHANNEL] == {
        "DCC_REC": str(tmp_path / "rec" / "1.1.wav"), "DCC_OWNER": "agent2", "DCC_OWNER_RING": "15",
        "DCC_QUEUE_WAIT": "45", "DCC_ROUTE": "agent",
    }  # fmt: skip
    assert list(env.pbx.vars[CHANNEL])[-1] == "DCC_ROUTE"  # the dialplan acts on DCC_ROUTE: it must come last
    attempt = await env.attempts.get("1.1")
    assert attempt is not None
    assert (attempt.direction, attempt.outcome, attempt.agent, attempt.lead_id) == (
        Direction.INBOUND,
        Outcome.ANSWERED,
        "agent2",
        lead.id,
    )
    assert attempt.recording == str(tmp_path / "rec" / "1.1.wav")
    pop = await env.pops.get()
    assert (pop.agent, pop.lead_id, pop.lead_name, pop.number, pop.new_lead) == (
        "agent2",
        lead.id,
        "李女士",
        "+8613900000002",
        False,
    )
    after = await env.leads.get(lead.id)
    assert after.last_contact_at is not None and after.callback_at is None
    assert env.recorded == [attempt]
    (ended,) = env.ended.pending()
    assert (ended.call_id, ended.agent, ended.outcome, ended.lead_id) == ("1.1", "agent2", Outcome.ANSWERED, lead.id)


async def test_an_unknown_caller_becomes_an_inbound_lead_and_goes_to_the_queue(env: Env) -> None:
    env.arrive("1.2", "13900000077")
    env.connect("1.2", "agent5")
    env.hangup("1.2")
    await env.service.drain()

    assert env.pbx.vars[CHANNEL]["DCC_ROUTE"] == "queue" and env.pbx.vars[CHANNEL]["DCC_OWNER"] == ""
    lead = await env.leads.find_by_phone("+8613900000077")
    assert lead is not None and lead.source is LeadSource.INBOUND and lead.name == "来电客户 0077"
    pop = await env.pops.get()
    assert (pop.agent, pop.lead_id, pop.new_lead) == ("agent5", lead.id, True)


async def test_after_hours_the_caller_hears_the_message_and_gets_a_callback_at_the_next_opening(env: Env) -> None:
    lead = await env.add_lead("+8613900000003", owner="agent3")
    env.clock.set(LATE)
    env.arrive("1.3", "13900000003")
    env.missed("1.3", "closed", "")
    env.hangup("1.3")
    await env.service.drain()

    assert env.pbx.vars[CHANNEL]["DCC_ROUTE"] == "closed" and env.pbx.vars[CHANNEL]["DCC_REC"] == ""
    attempt = await env.attempts.get("1.3")
    assert (
        attempt is not None
        and attempt.outcome is Outcome.ABANDONED
        and attempt.detail == "after hours: callback message played"
    )
    assert (await env.leads.get(lead.id)).callback_at == SATURDAY_OPEN
    assert env.pops.pending() == []


async def test_a_caller_over_the_line_limit_is_recorded_and_called_back(env: Env) -> None:
    env.busy("1.4", "13900000088")
    await env.service.drain()

    attempt = await env.attempts.get("1.4")
    assert attempt is not None
    assert (attempt.direction, attempt.outcome, attempt.hangup_cause) == (Direction.INBOUND, Outcome.FAILED, 17)
    lead = await env.leads.find_by_phone("+8613900000088")
    assert lead is not None and lead.callback_at == OPEN and attempt.lead_id == lead.id


async def test_with_the_ami_link_down_the_call_is_still_followed_and_recorded(env: Env) -> None:
    env.pbx.setvar_error = AmiLinkDown("down", sent=False)
    env.arrive("1.5", "13900000099")
    env.connect("1.5", "agent1")
    env.hangup("1.5")
    await env.service.drain()

    attempt = await env.attempts.get("1.5")
    assert attempt is not None and attempt.outcome is Outcome.ANSWERED and attempt.agent == "agent1"


async def test_a_withheld_number_is_an_attempt_without_a_lead(env: Env) -> None:
    env.arrive("1.6", "anonymous")
    env.hangup("1.6")
    await env.service.drain()

    attempt = await env.attempts.get("1.6")
    assert attempt is not None and (attempt.number, attempt.lead_id, attempt.outcome) == (None, None, Outcome.ABANDONED)


async def test_a_connected_call_a_periodic_snapshot_misses_ends_as_answered_after_the_grace(env: Env) -> None:
    loop = asyncio.get_running_loop()
    env.arrive("1.7", "13900000055")
    env.connect("1.7", "agent1")
    started = loop.time()
    env.periodic_snapshot("other")  # no Hangup will ever come for 1.7
    await env.service.drain()

    assert loop.time() - started >= GRACE_S
    attempt = await env.attempts.get("1.7")
    assert attempt is not None
    assert (attempt.outcome, attempt.agent, attempt.detail) == (
        Outcome.ANSWERED,
        "agent1",
        "call vanished from the PBX",
    )
    assert env.pbx.looks == 1


async def test_a_hangup_within_the_grace_wins_over_a_periodic_snapshot(env: Env) -> None:
    env.arrive("1.8", "13900000056")
    env.connect("1.8", "agent1")
    env.periodic_snapshot()
    env.hangup("1.8", cause=16)
    await env.service.drain()

    attempt = await env.attempts.get("1.8")
    assert attempt is not None
    assert (attempt.outcome, attempt.detail, attempt.hangup_cause) == (Outcome.ANSWERED, None, 16)


async def test_a_hang_up_held_up_behind_a_slow_admission_wins_over_the_second_look(env: Env) -> None:
    """The inbound machine decides at the caller's Hangup and waits for nothing after it. A Hangup routed before
    the second look is ahead of that look's CallVanished in the call's inbox, however long the admission (the
    Setvars, the store) keeps the call from reading it: the caller's outcome is kept."""
    gate = asyncio.Event()
    env.pbx.setvar_gate = gate
    env.arrive("1.10", "13900000058")
    env.hangup("1.10")
    env.periodic_snapshot()
    async with asyncio.timeout(60):
        while env.pbx.looks == 0:  # noqa: ASYNC110 - the scripted PBX has no event to await
            await asyncio.sleep(0.01)
    gate.set()
    await env.service.drain()

    attempt = await env.attempts.get("1.10")
    assert attempt is not None
    assert (attempt.outcome, attempt.detail) == (Outcome.ABANDONED, "caller hung up before an agent answered")


async def test_a_call_the_second_look_still_finds_is_not_ended(env: Env) -> None:
    env.arrive("1.9", "13900000057")
    env.connect("1.9", "agent1")
    env.periodic_snapshot()
    env.pbx.channels = (caller_channel("1.9"),)
    await asyncio.sleep(3 * GRACE_S)
    assert env.pbx.looks == 1
    still = await env.attempts.get("1.9")
    assert still is not None and still.outcome is None
    env.hangup("1.9")
    await env.service.drain()
    attempt = await env.attempts.get("1.9")
    assert attempt is not None and (attempt.outcome, attempt.detail) == (Outcome.ANSWERED, None)
