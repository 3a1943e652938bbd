"""The inbound queue comes back after an Asterisk restart, and at the dialer's start-up, on a real
Asterisk 16.28: nobody touches the desk, the stored presence alone puts the members back.

Asterisk keeps queue members in memory only (``persistentmembers = no``), so a restarted PBX has an
empty queue ``dcc``; each AMI link-up makes the dialer restore it (dialer/campaigns/presence.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.ami.client import AmiClient
from dialer.ami.errors import AmiError
from dialer.app import open_app
from dialer.domain.campaigns.presence import PresenceCommand
from dialer.lab.lab import Lab
from dialer.settings import Settings
from tests.inbound.labkit import private_lab

pytestmark = pytest.mark.asterisk

OFFSET = 1900
# Bounds a hang only (Asterisk restarts, the link backs off and comes back); nothing is measured.
LIMIT_S = 60.0
POLL_S = 0.2


@pytest.fixture
def lab_world(tmp_path: Path) -> Iterator[tuple[Lab, Settings]]:
    yield from private_lab(tmp_path, OFFSET)


def _members(queue_show: str) -> dict[str, str]:
    """``queue show dcc`` as agent -> the member's line."""
    members: dict[str, str] = {}
    for line in queue_show.splitlines():
        for agent in ("agent1", "agent2", "agent3"):
            if f"PJSIP/{agent}" in line:
                members[agent] = line
    return members


def _restored(members: dict[str, str]) -> bool:
    """agent1 in the queue and not paused, agent2 paused for lunch, agent3 (logged out) not a member."""
    return (
        set(members) == {"agent1", "agent2"}
        and "paused" not in members["agent1"]
        and "paused:午餐" in members["agent2"]
    )


async def _until_restored(ami: AmiClient) -> None:
    """Ask the PBX until the queue is as :func:`_restored` says (the link may still be coming back)."""
    members: dict[str, str] = {}
    try:
        async with asyncio.timeout(LIMIT_S):
            while not _restored(members):
                await asyncio.sleep(POLL_S)
                try:
                    members = _members(await ami.command("queue show dcc"))
                except AmiError:
                    members = {}  # link still down: ask again
    except TimeoutError:
        raise AssertionError(f"queue dcc was never restored; last seen: {members}") from None


@pytest.mark.timeout(240)
async def test_the_queue_comes_back_after_an_asterisk_restart_and_at_start_up(lab_world: tuple[Lab, Settings]) -> None:
    lab, settings = lab_world
    async with open_app(settings) as app:
        assert app.ami is not None
        await app.presence.change("agent1", PresenceCommand.LOGIN, "web:zhang")
        await app.presence.change("agent2", PresenceCommand.PAUSE, "web:liu", "午餐")
        await app.presence.change("agent3", PresenceCommand.LOGIN, "web:wang")
        await app.presence.change("agent3", PresenceCommand.LOGOUT, "web:wang")
        await _until_restored(app.ami)
        await asyncio.to_thread(lab.restart_asterisk)
        # The fresh Asterisk starts with no members; only the dialer's restore puts these back.
        await _until_restored(app.ami)
    # The dialer is down while Asterisk restarts: the queue is empty until the dialer starts.
    await asyncio.to_thread(lab.restart_asterisk)
    assert _members(await asyncio.to_thread(lab.asterisk_cli, "queue show dcc")) == {}
    async with open_app(settings) as app:
        assert app.ami is not None
        await _until_restored(app.ami)
