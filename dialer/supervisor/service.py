"""Listen, whisper and barge on a live agent call through ChanSpy, every listen-in audited.

How it works (docs/supervisor.md): the service originates the supervisor's phone into the
dialplan's ``[dcc-spy]`` with ``Exten`` = the agent's endpoint and ``DCC_SPY`` = the mode;
the dialplan runs ``ChanSpy(PJSIP/<agent>-,qE…)`` (``w`` whisper: only the agent hears;
``B`` barge: both hear). Switching mode does not ring the supervisor again: the service
sets ``DCC_SPY`` on the supervisor's live channel and Redirects it back into ``[dcc-spy]``,
so ChanSpy restarts in the new mode on the same call. ChanSpy's ``E`` ends the listen-in
when the agent's call ends; the supervisor's channel hanging up closes the audit row.

Every entry point checks the access policy first (:func:`dialer.domain.access.policy.can`,
``Action.LISTEN_IN_START``), and the audit row is committed before the PBX is asked
anything, so no listen-in ever happens unrecorded.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Protocol

from dialer.ami import events as ami
from dialer.ami.errors import AmiError
from dialer.clock import Clock
from dialer.domain.access.policy import Action, Resource, User, can
from dialer.domain.audit.model import AuditAction, AuditTrail
from dialer.domain.supervisor.listen_ins import ListenIn
from dialer.logs import get_logger
from dialer.settings import Settings
from dialer.store.listen_ins import ListenInStore
from dialer.supervisor.errors import AgentNotOnCall, ListenInOver, ListenInRefused, NoPhone, PbxRefused
from dialer.tasks import BackgroundTasks
from dialer.telephony.calls import AmiPort

log = get_logger(__name__)

# The dialplan context of asterisk/extensions.conf that runs ChanSpy.
SPY_CONTEXT = "dcc-spy"
# Asterisk's channel state "Up": only an answered call can be listened to.
_CHANNEL_UP = 6


class SpyMode(StrEnum):
    """How the supervisor joins; the values are what ``DCC_SPY`` carries into the dialplan."""

    LISTEN = "listen"  # hears both sides, nobody hears the supervisor
    WHISPER = "whisper"  # hears both sides, only the agent hears the supervisor (coaching)
    BARGE = "barge"  # joins the call: agent and customer both hear the supervisor


class EndReason(StrEnum):
    """Why an audited listen-in ended (the ``end_reason`` column)."""

    HANGUP = "hangup"
    STOPPED = "stopped"
    FAILED = "failed"


class SpyAmiPort(AmiPort, Protocol):
    """What the supervisor needs from the AMI layer: the call service's port plus hangup and setvar."""

    async def hangup(self, channel: str, cause: int = 16) -> None: ...

    async def setvar(self, channel: str, name: str, value: str) -> None: ...


class ListenInSession:
    """A running listen-in, as handed to the face that started it: switch its mode, stop it."""

    def __init__(self, service: SupervisorService, record: ListenIn, mode: SpyMode) -> None:
        self._service = service
        self.id = record.id
        self.agent = record.agent
        self.supervisor = record.supervisor
        self.channel_id = record.channel_id
        self.mode = mode

    async def switch(self, mode: SpyMode) -> None:
        """Move to ``mode`` on the same call, without ringing the supervisor again."""
        await self._service.switch(self, SpyMode(mode))

    async def stop(self) -> None:
        """End the listen-in (the supervisor's phone is hung up); the audit row closes now."""
        await self._service.stop(self)


class SupervisorService:
    """Starts, switches and stops listen-ins; keeps the audit log in step with the PBX."""

    def __init__(
        self, *, ami_client: SpyAmiPort, store: ListenInStore, audit: AuditTrail, settings: Settings, clock: Clock
    ) -> None:
        self._ami = ami_client
        self._store = store
        self._audit = audit
        self._settings = settings
        self._clock = clock
        # Supervisor legs this process started and has not seen end: the only Hangups it acts on.
        self._open: set[str] = set()
        self._background = BackgroundTasks()

    async def start(self, user: User, agent: str, mode: SpyMode) -> ListenInSession:
        """Listen in on ``agent``'s live call from ``user``'s phone (``user.agent``) in ``mode``.

        Raises :class:`ListenInRefused` (policy), :class:`NoPhone`, :class:`AgentNotOnCall`
        or :class:`PbxRefused`; the audit row exists whenever the PBX was asked.
        """
        mode = SpyMode(mode)
        decision = can(user, Action.LISTEN_IN_START, Resource(agent=agent))
        if not decision:
            log.warning(
                "supervisor.refused", user=user.name, role=user.role.value, agent=agent, reason=decision.reason.value
            )
            raise ListenInRefused(
                f"user {user.name!r} ({user.role.value}) may not listen in on {agent!r}: {decision.reason.value}"
            )
        if not user.agent:
            raise NoPhone(f"user {user.name!r} has no phone endpoint to listen on")
        await self._require_live_call(agent)
        channel_id = uuid.uuid4().hex
        record = await self._store.open(
            supervisor=user.name,
            agent=agent,
            phone=user.agent,
            channel_id=channel_id,
            mode=mode.value,
            at=self._clock.now(),
        )
        # The dealer-wide audit log too, still before the PBX is asked (the listen-in row has the details).
        await self._audit.record(
            user.name, AuditAction.LISTEN_IN_START, agent, {"listen_in_id": record.id, "mode": mode.value},
            dealer_id=record.dealer_id,  # the agent's: this node's dealer (another dealer's are refused above)
        )  # fmt: skip
        self._open.add(channel_id)
        try:
            await self._ami.originate(
                channel=f"PJSIP/{user.agent}",
                context=SPY_CONTEXT,
                exten=agent,
                priority=1,
                channel_id=channel_id,
                other_channel_id=f"{channel_id}-2",
                timeout_ms=int(self._settings.pbx.ring_timeout_s * 1000),
                caller_id=self._settings.pbx.caller_id,
                variables={"DCC_SPY": mode.value},
            )
        except AmiError as exc:
            self._open.discard(channel_id)
            await self._store.close(channel_id, self._clock.now(), EndReason.FAILED.value)
            raise PbxRefused(f"listen-in #{record.id} on {agent!r}: the PBX refused: {exc}") from exc
        log.info("supervisor.listen_in_started", listen_in_id=record.id, user=user.name, agent=agent, mode=mode.value)
        return ListenInSession(self, record, mode)

    async def switch(self, session: ListenInSession, mode: SpyMode) -> None:
        """Restart ChanSpy on the supervisor's live channel in ``mode`` (see the module docstring)."""
        if mode is session.mode:
            return
        channel = await self._live_channel(session)
        try:
            await self._ami.setvar(channel, "DCC_SPY", mode.value)
            await self._ami.redirect(channel, SPY_CONTEXT, session.agent, 1)
        except AmiError as exc:
            raise PbxRefused(f"listen-in #{session.id}: switch to {mode.value} refused: {exc}") from exc
        await self._store.add_mode(session.id, mode.value)
        session.mode = mode
        log.info("supervisor.listen_in_switched", listen_in_id=session.id, mode=mode.value)

    async def stop(self, session: ListenInSession) -> None:
        """Hang the supervisor's leg up and close the audit row; stopping twice is harmless."""
        self._open.discard(session.channel_id)
        closed = await self._store.close(session.channel_id, self._clock.now(), EndReason.STOPPED.value)
        if not closed:
            return
        try:
            channel = await self._live_channel(session)
            await self._ami.hangup(channel)
        except ListenInOver:
            pass  # the leg was already gone; the row is closed either way
        except AmiError as exc:
            log.warning("supervisor.hangup_failed", listen_in_id=session.id, error=str(exc))
        log.info("supervisor.listen_in_stopped", listen_in_id=session.id)

    def route(self, event: ami.AmiEvent) -> None:
        """Take one AMI event: the end of a supervisor leg this service started closes its audit row."""
        if isinstance(event, ami.Hangup) and event.uniqueid in self._open:
            self._end(event.uniqueid, event.at, EndReason.HANGUP)
        elif (
            isinstance(event, ami.OriginateResponse)
            and event.uniqueid in self._open
            and event.response.lower() != "success"
        ):
            self._end(event.uniqueid, event.at, EndReason.FAILED)

    async def recover(self) -> int:
        """After a dialer restart: close audit rows left open whose supervisor leg is gone; returns how many."""
        live = {c.uniqueid for c in await self._channels()}
        closed = 0
        for record in await self._store.open_rows():
            if record.channel_id in live:
                self._open.add(record.channel_id)
            elif await self._store.close(record.channel_id, self._clock.now(), EndReason.HANGUP.value):
                closed += 1
        return closed

    async def drain(self) -> None:
        """Wait until every audit row this service is closing has been written (shutdown, tests)."""
        await self._background.drain()

    def _end(self, channel_id: str, at: Any, reason: EndReason) -> None:
        self._open.discard(channel_id)
        self._background.spawn(self._closed(channel_id, at, reason))

    async def _closed(self, channel_id: str, at: Any, reason: EndReason) -> None:
        try:
            if await self._store.close(channel_id, at, reason.value):
                log.info("supervisor.listen_in_ended", channel_id=channel_id, reason=reason.value)
        except Exception:
            log.exception("supervisor.audit_close_failed", channel_id=channel_id)

    async def _require_live_call(self, agent: str) -> None:
        channels = await self._channels()
        if not any(c.channel.startswith(f"PJSIP/{agent}-") and c.channel_state == _CHANNEL_UP for c in channels):
            raise AgentNotOnCall(f"agent {agent!r} has no answered call to listen to")

    async def _live_channel(self, session: ListenInSession) -> str:
        for c in await self._channels():
            if c.uniqueid == session.channel_id:
                return c.channel
        raise ListenInOver(f"listen-in #{session.id} on {session.agent!r} is over (the supervisor's leg is gone)")

    async def _channels(self) -> tuple[ami.ChannelInfo, ...]:
        try:
            return await self._ami.core_show_channels()
        except AmiError as exc:
            raise PbxRefused(f"cannot list the PBX's channels: {exc}") from exc
