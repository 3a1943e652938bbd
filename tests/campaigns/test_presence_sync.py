"""The inbound queue put back from stored presence after an AMI link-up: the pure plan, the runner
against a fake PBX that keeps members the way app_queue does, and the service's restore."""

from __future__ import annotations

import asyncio

import pytest

from dialer.ami.errors import AmiLinkDown
from dialer.campaigns.presence import PresenceService, run_queue_steps
from dialer.domain.campaigns.presence import PhoneState, Presence, PresenceCommand, QueueMove, QueueStep, queue_plan
from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.events.bus import EventBus
from dialer.store.presence import PresenceStore

from .conftest import START, World

REASONS = ("休息", "培训", "会议", "午餐")
GRACE_S = 0.5


class FakePbx:
    """app_queue's members in memory: adding a member keeps its pause, pausing a non-member is refused.

    ``refuse`` holds agents whose every change the PBX refuses; ``link_down`` makes every change fail
    as if the AMI link had dropped; ``hold`` (when set) makes each change wait until it is set free.
    """

    def __init__(self) -> None:
        self.members: dict[str, tuple[bool, str | None]] = {}
        self.sent: list[tuple[str, str]] = []
        self.refuse: set[str] = set()
        self.link_down = False
        self.hold: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def _check(self, move: str, agent: str) -> None:
        hold = self.hold
        if hold is not None:
            self.waiting.set()
            await hold.wait()
        if self.link_down:
            raise AmiLinkDown("AMI link to 127.0.0.1:5038 is down: Command was not sent", sent=False)
        if agent in self.refuse:
            raise QueueChangeRefused(f"PBX refused 'queue {move} member PJSIP/{agent}': Unable to {move} interface")
        self.sent.append((move, agent))

    async def add(self, agent: str) -> None:
        await self._check("add", agent)
        self.members.setdefault(agent, (False, None))

    async def remove(self, agent: str) -> None:
        await self._check("remove", agent)
        self.members.pop(agent, None)

    async def pause(self, agent: str, paused: bool, reason: str | None = None) -> None:
        await self._check("pause" if paused else "unpause", agent)
        if agent not in self.members:
            raise QueueChangeRefused(f"PBX refused 'queue pause member PJSIP/{agent}': Unable to pause interface")
        self.members[agent] = (paused, reason)

    def restart(self) -> None:
        """Asterisk restarted: ``persistentmembers = no``, the queue is empty."""
        self.members.clear()


# -- the pure plan ---------------------------------------------------------------------------------


def test_the_plan_follows_each_stored_presence_agent_by_agent() -> None:
    stored = [
        Presence("agent3", PhoneState.LOGGED_OUT, START),
        Presence("agent1", PhoneState.AVAILABLE, START),
        Presence("agent2", PhoneState.PAUSED, START, "午餐"),
    ]
    assert queue_plan(stored) == (
        QueueStep("agent1", QueueMove.ADD), QueueStep("agent1", QueueMove.UNPAUSE),
        QueueStep("agent2", QueueMove.ADD), QueueStep("agent2", QueueMove.PAUSE, "午餐"),
        QueueStep("agent3", QueueMove.REMOVE),
    )  # fmt: skip
    assert queue_plan([]) == ()


# -- the runner --------------------------------------------------------------------------------------


async def test_the_plan_rebuilds_an_emptied_queue_and_fixes_one_left_as_it_was() -> None:
    plan = queue_plan([
        Presence("agent1", PhoneState.AVAILABLE, START), Presence("agent2", PhoneState.PAUSED, START, "会议"),
        Presence("agent3", PhoneState.LOGGED_OUT, START),
    ])  # fmt: skip
    pbx = FakePbx()
    assert await run_queue_steps(pbx, plan) == ()
    assert pbx.members == {"agent1": (False, None), "agent2": (True, "会议")}
    # A reconnect without a restart: the PBX kept members, one of them wrong; running again converges.
    pbx.members = {"agent1": (True, "休息"), "agent3": (False, None)}
    assert await run_queue_steps(pbx, plan) == ()
    assert pbx.members == {"agent1": (False, None), "agent2": (True, "会议")}


async def test_a_refusal_skips_that_agent_only_and_is_reported() -> None:
    plan = queue_plan(
        [Presence("agent1", PhoneState.PAUSED, START, "午餐"), Presence("agent2", PhoneState.AVAILABLE, START)]
    )
    pbx = FakePbx()
    pbx.refuse = {"agent1"}
    assert await run_queue_steps(pbx, plan) == ("agent1",)
    assert pbx.sent == [("add", "agent2"), ("unpause", "agent2")]  # agent1's pause was not tried after its add failed
    pbx.link_down = True
    assert await run_queue_steps(pbx, plan) == ("agent1", "agent2")


# -- the service -------------------------------------------------------------------------------------


async def test_restore_puts_back_stored_presence_and_leaves_agents_without_a_row(world: World) -> None:
    pbx = FakePbx()
    service = PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS, pbx)
    await service.change("agent1", PresenceCommand.LOGIN, "web:zhang")
    await service.change("agent2", PresenceCommand.PAUSE, "web:liu", "午餐")
    await service.change("agent3", PresenceCommand.LOGIN, "web:wang")
    await service.change("agent3", PresenceCommand.LOGOUT, "web:wang")
    pbx.restart()
    pbx.members["agent9"] = (False, None)  # added by hand (`dialer inbound agents add`), no stored presence
    pbx.refuse = {"agent1"}
    assert await service.restore_queue() == ("agent1",)
    assert pbx.members == {"agent2": (True, "午餐"), "agent9": (False, None)}
    pbx.refuse = set()  # the next link-up retries everyone
    assert await service.restore_queue() == ()
    assert pbx.members == {"agent1": (False, None), "agent2": (True, "午餐"), "agent9": (False, None)}
    assert (await service.get("agent3")).state is PhoneState.LOGGED_OUT  # a restore never changes what is stored


async def test_a_desk_click_during_a_restore_waits_for_it(world: World) -> None:
    """Without the shared lock the restore, having read "available", would re-add a member who just logged out."""
    pbx = FakePbx()
    service = PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS, pbx)
    await service.change("agent1", PresenceCommand.LOGIN, "web:zhang")
    pbx.restart()
    pbx.hold = held = asyncio.Event()
    restore = asyncio.create_task(service.restore_queue())
    await pbx.waiting.wait()  # the restore has read the presence and its first command is at the PBX
    pbx.hold = None  # only that first command is held
    logout = asyncio.create_task(service.change("agent1", PresenceCommand.LOGOUT, "web:zhang"))
    # The logout must not get through while the restore is at the PBX. A grace window, not a
    # measurement: with the lock it always runs out; without it the logout would finish inside it.
    done, _ = await asyncio.wait({logout}, timeout=GRACE_S)
    assert not done, "a desk change went through in the middle of a restore"
    held.set()
    assert await restore == ()
    await logout
    assert pbx.sent[1:] == [("add", "agent1"), ("unpause", "agent1"), ("remove", "agent1")]  # [0]: the login
    assert pbx.members == {}


async def test_a_new_pause_reason_reaches_the_queue(world: World) -> None:
    pbx = FakePbx()
    service = PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS, pbx)
    await service.change("agent1", PresenceCommand.PAUSE, "web:zhang", "午餐")
    await service.change("agent1", PresenceCommand.PAUSE, "web:zhang", "会议")
    assert pbx.members == {"agent1": (True, "会议")}
    await service.change("agent1", PresenceCommand.RESUME, "web:zhang")
    assert pbx.members == {"agent1": (False, None)}


async def test_restore_needs_the_pbx(world: World) -> None:
    with pytest.raises(RuntimeError, match="with_queue"):
        await PresenceService(PresenceStore(world.db), EventBus(), world.clock, REASONS).restore_queue()
