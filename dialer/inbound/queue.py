"""The inbound queue's members: agents join it on login, leave on logout, pause in wrap-up.

app_queue (``asterisk/queues.conf``, strategy ``leastrecent``) rings the member idle longest,
never one already on a call (``ringinuse=no``). Members are not listed in the config: the
dialer adds them as agents log in, so the queue always matches who is really at a desk.

Changes go through the Asterisk CLI (AMI ``Command``), not the ``QueueAdd``/``QueuePause``
actions: panoramisk takes QueueAdd's reply "Added interface to queue" for the start of an
event list and waits for an end that never comes, so the action times out although it worked.
"""

from __future__ import annotations

from typing import Protocol

from dialer.inbound.errors import QueueChangeRefused
from dialer.logging import get_logger

log = get_logger(__name__)

# The app_queue queue of asterisk/queues.conf.
QUEUE = "dcc"


class CommandPort(Protocol):
    """Running one Asterisk CLI command over AMI (``dialer.ami.client.AmiClient.command``)."""

    async def command(self, text: str) -> str: ...


class InboundQueue:
    """Adds, removes, pauses and unpauses agent phones in the inbound queue."""

    def __init__(self, ami_client: CommandPort) -> None:
        self._ami = ami_client

    async def add(self, agent: str) -> None:
        """Offer inbound calls to ``agent``'s phone (on login)."""
        await self._run(f"queue add member PJSIP/{agent} to {QUEUE} penalty 0 as {agent}", "Added")
        log.info("inbound.agent_added", agent=agent)

    async def remove(self, agent: str) -> None:
        """Stop offering inbound calls to ``agent`` (on logout)."""
        await self._run(f"queue remove member PJSIP/{agent} from {QUEUE}", "Removed")
        log.info("inbound.agent_removed", agent=agent)

    async def pause(self, agent: str, paused: bool) -> None:
        """Hold inbound calls back from an agent who is paused or in wrap-up (``paused=False`` resumes)."""
        verb = "pause" if paused else "unpause"
        await self._run(f"queue {verb} member PJSIP/{agent} queue {QUEUE}", f"{verb}d")
        log.info("inbound.agent_paused", agent=agent, paused=paused)

    async def _run(self, command: str, success: str) -> None:
        output = await self._ami.command(command)
        if not output.lstrip().lower().startswith(success.lower()):
            raise QueueChangeRefused(f"PBX refused {command!r}: {output.strip() or 'no output'}")
