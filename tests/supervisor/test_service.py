"""The supervisor service against a scripted PBX and a real store: policy first, audit always."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dialer.ami import events as ami
from dialer.ami.errors import AmiActionError
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role, User
from dialer.domain.audit.model import AuditAction
from dialer.settings import Settings
from dialer.store.database import Database
from dialer.store.listen_ins import ListenInStore
from dialer.supervisor.errors import AgentNotOnCall, ListenInOver, ListenInRefused, NoPhone, PbxRefused
from dialer.supervisor.service import SpyMode, SupervisorService

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
BOSS = User("zhang.wei", Role.SUPERVISOR, agent="supervisor")


def channel(name: str, uniqueid: str, state: int = 6, bridge: str = "") -> ami.ChannelInfo:
    return ami.ChannelInfo(
        channel=name, uniqueid=uniqueid, linkedid=uniqueid, channel_state=state, channel_state_desc="Up",
        caller_id_num="", caller_id_name="", context="", exten="", priority=1, application="", application_data="",
        duration_s=0, bridge_id=bridge,
    )  # fmt: skip


class ScriptedPbx:
    """The supervisor's AMI port: a channel list to answer with, and a log of what was asked."""

    def __init__(self) -> None:
        self.channels = [channel("PJSIP/agent2-00000002", "a2", bridge="b1")]
        self.asked: list[tuple[str, Any]] = []
        self.originate_error: Exception | None = None

    async def originate(self, **fields: Any) -> None:
        self.asked.append(("originate", fields))
        if self.originate_error is not None:
            raise self.originate_error
        self.channels.append(channel("PJSIP/supervisor-00000009", fields["channel_id"]))

    async def redirect(self, channel_name: str, context: str, exten: str, priority: int = 1) -> None:
        self.asked.append(("redirect", (channel_name, context, exten, priority)))

    async def hangup(self, channel_name: str, cause: int = 16) -> None:
        self.asked.append(("hangup", channel_name))

    async def setvar(self, channel_name: str, name: str, value: str) -> None:
        self.asked.append(("setvar", (channel_name, name, value)))

    async def core_show_channels(self) -> tuple[ami.ChannelInfo, ...]:
        return tuple(self.channels)


class Trail:
    """The audit trail, kept in a list."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, AuditAction, str, dict[str, Any]]] = []
        self.dealers: list[int | None] = []

    async def record(
        self, actor: str, action: AuditAction, target: str, detail: Any = None, *, dealer_id: int | None
    ) -> None:
        self.rows.append((actor, action, target, dict(detail or {})))
        self.dealers.append(dealer_id)


@pytest.fixture
async def env(
    store_target: str | Path,
) -> AsyncIterator[tuple[SupervisorService, ScriptedPbx, ListenInStore, VirtualClock]]:
    clock = VirtualClock(T0)
    db = await Database.open(store_target, clock=clock)
    try:
        store, pbx = ListenInStore(db), ScriptedPbx()
        yield (
            SupervisorService(ami_client=pbx, store=store, audit=Trail(), settings=Settings(), clock=clock),
            pbx,
            store,
            clock,
        )
    finally:
        await db.close()


async def test_start_audits_first_then_originates_the_supervisor_into_chanspy(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, _ = env
    session = await service.start(BOSS, "agent2", SpyMode.LISTEN)

    ((kind, fields),) = pbx.asked
    assert kind == "originate"
    assert (fields["channel"], fields["context"], fields["exten"], fields["channel_id"]) == (
        "PJSIP/supervisor",
        "dcc-spy",
        "agent2",
        session.channel_id,
    )
    assert dict(fields["variables"]) == {"DCC_SPY": "listen"}
    audit = await store.get(session.id)
    assert audit is not None
    assert (audit.supervisor, audit.agent, audit.phone, audit.modes, audit.started_at, audit.ended_at) == (
        "zhang.wei",
        "agent2",
        "supervisor",
        ("listen",),
        T0,
        None,
    )


async def test_start_is_in_the_dealer_audit_log_even_when_the_pbx_refuses(env) -> None:  # type: ignore[no-untyped-def]
    _, _, store, clock = env
    trail, pbx = Trail(), ScriptedPbx()
    service = SupervisorService(ami_client=pbx, store=store, audit=trail, settings=Settings(), clock=clock)
    session = await service.start(BOSS, "agent2", SpyMode.WHISPER)
    pbx.originate_error = AmiActionError("Originate", "Extension does not exist.")
    with pytest.raises(PbxRefused):
        await service.start(BOSS, "agent2", SpyMode.LISTEN)

    assert trail.rows[0] == (
        "zhang.wei",
        AuditAction.LISTEN_IN_START,
        "agent2",
        {"listen_in_id": session.id, "mode": "whisper"},
    )
    assert [row[1] for row in trail.rows] == [AuditAction.LISTEN_IN_START] * 2
    assert trail.dealers == [1, 1]  # the listen-in's: this node's dealer's


@pytest.mark.parametrize(
    "user", [User("li", Role.AGENT, agent="agent1"), User("wang", Role.SALES_MANAGER), User("it", Role.ADMIN)]
)
async def test_the_access_policy_refuses_before_anything_happens(env, user: User) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, _ = env
    with pytest.raises(ListenInRefused, match="role_not_allowed"):
        await service.start(user, "agent2", SpyMode.LISTEN)
    assert pbx.asked == [] and await store.recent(T0 - timedelta(days=1)) == []


async def test_qa_may_listen_in_too(env) -> None:  # type: ignore[no-untyped-def]
    service, *_ = env
    assert (await service.start(User("qa1", Role.QA, agent="supervisor"), "agent2", SpyMode.LISTEN)).agent == "agent2"


async def test_no_phone_or_no_live_call_is_refused_without_audit_noise(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, _ = env
    with pytest.raises(NoPhone):
        await service.start(User("zhang.wei", Role.SUPERVISOR), "agent2", SpyMode.LISTEN)
    with pytest.raises(AgentNotOnCall, match="agent1"):
        await service.start(BOSS, "agent1", SpyMode.LISTEN)  # agent1 has no call; agent10 would not count either
    pbx.channels = [channel("PJSIP/agent10-00000001", "a10")]
    with pytest.raises(AgentNotOnCall):
        await service.start(BOSS, "agent1", SpyMode.LISTEN)
    assert pbx.asked == [] and await store.recent(T0 - timedelta(days=1)) == []


async def test_switch_redirects_the_live_leg_and_stop_hangs_it_up_and_closes_the_audit(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, clock = env
    session = await service.start(BOSS, "agent2", SpyMode.LISTEN)
    clock.advance(30)
    await session.switch(SpyMode.WHISPER)
    await session.switch(SpyMode.WHISPER)  # already there: nothing asked
    clock.advance(30)
    await session.switch(SpyMode.BARGE)
    clock.advance(15)
    await session.stop()
    await session.stop()

    assert [k for k, _ in pbx.asked] == ["originate", "setvar", "redirect", "setvar", "redirect", "hangup"]
    assert pbx.asked[1:3] == [
        ("setvar", ("PJSIP/supervisor-00000009", "DCC_SPY", "whisper")),
        ("redirect", ("PJSIP/supervisor-00000009", "dcc-spy", "agent2", 1)),
    ]
    audit = await store.get(session.id)
    assert audit is not None
    assert (audit.modes, audit.end_reason, audit.seconds) == (("listen", "whisper", "barge"), "stopped", 75.0)


async def test_the_supervisor_hanging_up_closes_the_audit(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, clock = env
    session = await service.start(BOSS, "agent2", SpyMode.BARGE)
    clock.advance(42)
    service.route(ami.Hangup(at=clock.now(), channel="PJSIP/x-1", uniqueid="someone-else", linkedid="", caller_id_num="",
                             caller_id_name="", cause=16, cause_txt=""))  # fmt: skip
    service.route(ami.Hangup(at=clock.now(), channel="PJSIP/supervisor-00000009", uniqueid=session.channel_id,
                             linkedid=session.channel_id, caller_id_num="", caller_id_name="", cause=16, cause_txt=""))  # fmt: skip
    await service.drain()

    audit = await store.get(session.id)
    assert audit is not None and (audit.end_reason, audit.seconds) == ("hangup", 42.0)
    pbx.channels = pbx.channels[:1]
    with pytest.raises(ListenInOver):
        await session.switch(SpyMode.LISTEN)


async def test_a_refused_originate_is_audited_as_failed(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, _ = env
    pbx.originate_error = AmiActionError("Originate", "Extension does not exist.")
    with pytest.raises(PbxRefused):
        await service.start(BOSS, "agent2", SpyMode.LISTEN)
    (audit,) = await store.recent(T0 - timedelta(days=1))
    assert audit.end_reason == "failed" and audit.seconds == 0.0


async def test_recover_closes_rows_whose_leg_is_gone_and_keeps_live_ones(env) -> None:  # type: ignore[no-untyped-def]
    service, pbx, store, clock = env
    live = await service.start(BOSS, "agent2", SpyMode.LISTEN)
    gone = await store.open(
        supervisor="zhang.wei", agent="agent3", phone="supervisor", channel_id="old", mode="listen", at=T0
    )
    restarted = SupervisorService(ami_client=pbx, store=store, audit=Trail(), settings=Settings(), clock=clock)

    assert await restarted.recover() == 1
    assert (await store.get(gone.id)).end_reason == "hangup"  # type: ignore[union-attr]
    assert (await store.get(live.id)).ended_at is None  # type: ignore[union-attr]
