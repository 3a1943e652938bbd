"""The inbound queue's members: agents join it on login, leave on logout, pause in wrap-up.

app_queue (``asterisk/queues.conf``, strategy ``leastrecent``) rings the member idle longest,
never one already on a call (``ringinuse=no``). Members are not listed in the config: the
dialer adds them as agents log in, so the queue always matches who is really at a desk, and
puts them back from the stored presence after every AMI link-up (Asterisk keeps them in memory
only), see :meth:`dialer.campaigns.presence.PresenceService.restore_queue`.

Changes go through the Asterisk CLI (AMI ``Command``), not the ``QueueAdd``/``QueuePause``
actions: panoramisk takes QueueAdd's reply "Added interface to queue" for the start of an
event list and waits for an end that never comes, so the action times out although it worked.
"""

from __future__ import annotations

from typing import Protocol

from dialer.domain.inbound.errors import QueueChangeRefused
from dialer.logs import get_logger

log = get_logger(__name__)

# The app_queue queue of asterisk/queues.conf.
QUEUE = "dcc"


class CommandPort(Protocol):
    """Running one Asterisk CLI command over AMI (``dialer.ami.client.AmiClient.command``)."""

    async def command(self, text: str) -> str: ...


class InboundQueue:
    """Adds, removes, pauses and unpauses agent phones in the inbound queue.

    Adding a member that is already there, or removing one that is not, succeeds: callers want
    a state (the desk's login, the restore after a PBX restart), and the PBX already has it.
    """

    def __init__(self, ami_client: CommandPort) -> None:
        self._ami = ami_client

    async def add(self, agent: str) -> None:
        """Offer inbound calls to ``agent``'s phone (on login)."""
        await self._run(f"queue add member PJSIP/{agent} to {QUEUE} penalty 0 as {agent}", "Added", "Already there")
        log.info("inbound.agent_added", agent=agent)

    async def remove(self, agent: str) -> None:
        """Stop offering inbound calls to ``agent`` (on logout)."""
        await self._run(f"queue remove member PJSIP/{agent} from {QUEUE}", "Removed", "Not there")
        log.info("inbound.agent_removed", agent=agent)

    async def pause(self, agent: str, paused: bool, reason: str | None = None) -> None:
        """Hold inbound calls back from a paused agent (``paused=False`` resumes); ``queue show`` shows ``reason``."""
        verb = "pause" if paused else "unpause"
        suffix = "" if reason is None else f" reason {_cli_quoted(reason)}"
        await self._run(f"queue {verb} member PJSIP/{agent} queue {QUEUE}{suffix}", f"{verb}d")
        log.info("inbound.agent_paused", agent=agent, paused=paused, reason=reason)

    async def _run(self, command: str, success: str, already: str | None = None) -> None:
        output = (await self._ami.command(command)).strip()
        if output.lower().startswith(success.lower()) or (already is not None and output.endswith(f": {already}")):
            return
        raise QueueChangeRefused(f"PBX refused {command!r}: {output or 'no output'}")


def _cli_quoted(text: str) -> str:
    """``text`` as one Asterisk CLI argument: pause reasons are dealer settings and may hold spaces."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
