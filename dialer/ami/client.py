"""AmiClient: our hardened AMI link to Asterisk, built on panoramisk 1.4.

panoramisk gives us action IDs, action serialization and the collection of
multi-message replies. Everything around it that decides whether a call center
dials a customer once, twice or never is ours (numbers refer to the defects in
docs/panoramisk.md):

* wire decoding through :mod:`dialer.ami.codec` in a subclassed protocol, so
  split UTF-8 characters survive (3), and a failing message or handler is logged
  instead of killing the connection (2); a message beyond the codec's size limit
  drops the link (reconnect and reconcile) instead of growing the buffer forever;
* every action has a timeout and its pending entry is removed however it ends
  (6); an error reply to a list action resolves at once (6); an action while the
  link is down fails immediately with :class:`AmiLinkDown` (4);
* Originate always goes ``Async: true`` and returns on "successfully queued"
  (1); its ``OriginateResponse`` is handed to the event stream, not swallowed by
  the action;
* nothing is ever replayed after a reconnect (5): every action name counts as
  forgettable, pending actions fail with AmiLinkDown when the link drops, and
  each connection gets a fresh Manager, so no queue of old actions survives;
* our own liveness check (Ping with a timeout) notices a half-open link, and our
  own supervisor reconnects with exponential backoff and jitter; panoramisk's
  reconnect loop is never armed, so :meth:`AmiClient.close` leaves nothing
  scheduled (7); managers are built only inside the running loop (12);
* after every (re)connect, and every ``pbx.reconcile_interval_s`` on a live link
  (``periodic``, the supervised task ``ami-reconcile``), ``CoreShowChannels``
  becomes a :class:`Reconciled` event placed in the stream exactly where the
  snapshot was taken;
* the first connect fails fast on a definite answer (refused port, refused
  login) but retries, at the reconnect backoff for up to
  ``pbx.first_connect_retry_s``, while Asterisk merely does not answer in time
  (:class:`AmiConnectTimeout`: a PBX just booted on a loaded host).

Events reach the single consumer of :meth:`AmiClient.events` through one bounded
queue, the events of one TCP read together (one timestamp, one wake-up of the
consumer); panoramisk's parser and event dispatch are not on this path at all.
Backpressure policy: if the consumer falls so far behind that the queue is full,
dropping single events would leave calls in wrong states without anyone
noticing, and blocking is impossible inside ``data_received``. So the link is
dropped instead (logged as an error), the supervisor waits until the consumer
has worked the queue down to half, then reconnects, and the new
:class:`Reconciled` snapshot repairs whatever was missed.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Self

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message as PanoramiskMessage

from dialer.ami.buffer import BufferFull, EventBuffer
from dialer.ami.codec import ENCODING, Banner, FrameTooLarge, Message, MessageKind, Parser
from dialer.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectError,
    AmiConnectTimeout,
    AmiError,
    AmiLinkDown,
    AmiTimeout,
)
from dialer.ami.events import (
    AmiEvent,
    ChannelInfo,
    EventFieldError,
    FullyBooted,
    LinkDown,
    LinkUp,
    RawEvent,
    Reconciled,
    channel_info,
    from_message,
)
from dialer.clock import Clock, SystemClock
from dialer.logs import get_logger
from dialer.settings import PbxSettings
from dialer.tasks import TaskHealth, supervised

log = get_logger(__name__)

_SUCCESS = frozenset({"success", "follows", "goodbye"})
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_TRUE = frozenset({"true", "yes", "1", "on"})
# A new link queues LinkUp, FullyBooted and Reconciled before the consumer can react.
_LINK_START_EVENTS = 3
# The supervised task of the periodic snapshot (logs, /metrics).
RECONCILE_TASK = "ami-reconcile"
# Backoff doubles per failed attempt; past this exponent it is pinned at the maximum anyway.
_MAX_BACKOFF_EXPONENT = 32

FieldValue = str | Sequence[str]


class _ForgetEverything:
    """panoramisk's ``forgetable_actions``: contains every action name.

    panoramisk re-sends un-answered actions after a reconnect unless their name is
    in this collection. Nothing may be replayed blindly: a replayed Originate
    dials a customer twice, a replayed Redirect moves a call that moved on.
    """

    def __contains__(self, name: object) -> bool:
        return True


class _Action(Action):
    """A panoramisk Action that can run a callback synchronously when its reply completes.

    Used for the snapshots: the Reconciled event must enter the queue at
    the exact point of the stream where CoreShowChannelsComplete arrived.
    """

    on_complete: Callable[[Any], None] | None = None


def _to_panoramisk(message: Message) -> PanoramiskMessage:
    """The panoramisk view of one of our messages (for its reply collection), pointing back to ours."""
    headers: dict[str, str | list[str]] = {}
    spelled: dict[str, str] = {}
    for key, value in message.headers:
        name = spelled.setdefault(key.lower(), key)
        if name not in headers:
            headers[name] = value
            continue
        previous = headers[name]
        headers[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    pm = PanoramiskMessage(headers, "\n".join(message.output))
    pm.source = message
    return pm


class _Protocol(AMIProtocol):
    """panoramisk's protocol with our codec, our routing and failure isolation."""

    def __init__(self, manager: _Manager) -> None:
        super().__init__()
        self._manager = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Wired here, not after create_connection returns, because data may arrive first.
        self.factory = self._manager
        self.encoding = ENCODING
        self.parser = Parser()
        self._manager.protocol = self
        self._manager.responses = self.responses

    def data_received(self, data: bytes) -> None:
        try:
            items = self.parser.feed(data)
        except FrameTooLarge as exc:
            # The stream has lost its framing (or a peer is flooding us): reconnect and reconcile.
            log.error("ami_frame_too_large", error=str(exc))
            self._manager.abort_link(f"protocol error: {exc}")
            return
        # The events of one read go to the client together (one timestamp, one wake-up of the
        # consumer); anything for a pending action is handled in its place in the stream, after
        # the events before it, so a snapshot's Reconciled lands exactly where it was taken.
        events: list[Message] = []
        for item in items:
            if isinstance(item, Banner):
                self.version = item.version
                continue
            if item.kind is MessageKind.EVENT and not self.responses:
                events.append(item)
                continue
            if events:
                self._manager.on_events(events)
                events = []
            try:
                self.handle_message(item)
            except Exception:
                # One bad message must not take the others of this read, or the link, with it.
                log.exception("ami_message_failed", kind=item.kind.value, name=item.name)
        if events:
            self._manager.on_events(events)

    def handle_message(self, message: Message) -> None:
        action_id = message.action_id
        pending = self.responses.get(action_id) if action_id else None
        kind = message.kind
        if pending is not None and (kind is MessageKind.RESPONSE or _collecting(pending)):
            self._deliver(pending, message)
        elif kind is MessageKind.EVENT:
            # Events with the ActionID of a finished or single-reply action (OriginateResponse
            # of an async Originate) belong to the stream, not to the action. They go straight to
            # the client: panoramisk's dispatch would match every event against its patterns.
            self._manager.on_events([message])
        else:
            log.debug("ami_unmatched_message", kind=kind.value, name=message.name, action_id=message.action_id)

    def _deliver(self, action: _Action, message: Message) -> None:
        if action.future.done():
            # Timed out or cancelled an instant ago; its waiter is removing it.
            self.forget(action)
            return
        pm = _to_panoramisk(message)
        if not action.responses and _is_error(message):
            # A list action's error reply would otherwise wait forever for its "...Complete".
            action.responses.append(pm)
            action.future.set_result(pm)
            done = True
        else:
            done = bool(action.add_message(pm))
        if done:
            self.forget(action)
            if action.on_complete is not None:
                action.on_complete(action.future.result())

    def forget(self, action: Action) -> None:
        """Remove an action's pending entry (both keys panoramisk files it under)."""
        for key in {action.id, action.action_id}:
            if key and self.responses.get(key) is action:
                del self.responses[key]
        if not action.future.done():
            action.future.cancel()

    def pending(self) -> int:
        return len({id(a) for a in self.responses.values()})

    def _fail_pending(self) -> None:
        where = f"{self.factory.config['host']}:{self.factory.config['port']}"
        for action in {id(a): a for a in self.responses.values()}.values():
            if not action.future.done():
                action.future.set_exception(
                    AmiLinkDown(f"AMI link to {where} went down before Asterisk answered {action['Action']}", sent=True)
                )
        self.responses.clear()

    def abort(self) -> None:
        """Tear the connection down now, without waiting for a FIN that a dead peer never sends."""
        self._fail_pending()
        self.closed = True
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_pending()
        self.closed = True
        self.factory.connection_lost(exc)


def _is_error(message: Message) -> bool:
    """Is this a reply saying the action failed (``Response: Error`` and kin)?"""
    return message.kind is MessageKind.RESPONSE and message.name.lower() not in _SUCCESS


def _collecting(action: Action) -> bool:
    """Has the action announced a list of events that are still coming?"""
    return bool(action.responses) and bool(action.multi)


class _Manager(Manager):
    """A panoramisk Manager for exactly one connection: never reconnects, never replays."""

    def __init__(
        self,
        pbx: PbxSettings,
        on_lost: Callable[[Exception | None], None],
        on_events: Callable[[list[Message]], None],
        abort_link: Callable[[str], None],
    ) -> None:
        super().__init__(
            host=pbx.ami_host,
            port=pbx.ami_port,
            encoding=ENCODING,
            loop=asyncio.get_running_loop(),
            forgetable_actions=_ForgetEverything(),
        )
        self._on_lost = on_lost
        self.on_events = on_events
        self.abort_link = abort_link

    def send_awaiting_actions(self, *_: object) -> None:
        """Drop, never replay: the reconnect snapshot tells what really happened meanwhile."""
        if self.awaiting_actions:
            log.warning("ami_replay_refused", actions=len(self.awaiting_actions))
        self.awaiting_actions.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        # Deliberately not scheduling panoramisk's reconnect: our supervisor owns that.
        self._connected = False
        self._on_lost(exc)


class _Link:
    """State of one TCP connection to Asterisk, from connect to loss."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.manager: _Manager | None = None
        self.booted: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()
        self.up = False  # FullyBooted seen, LinkUp emitted
        self.down_sent = False
        self.overflowed = False
        self.dropped = 0
        self.abort_reason: str | None = None

    @property
    def protocol(self) -> _Protocol | None:
        return None if self.manager is None else self.manager.protocol

    @property
    def usable(self) -> bool:
        protocol = self.protocol
        return protocol is not None and not protocol.closed and not self.lost.done()

    def on_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(
                self.abort_reason or (f"connection lost: {exc}" if exc else "connection closed by Asterisk")
            )

    def abort(self, reason: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
        protocol = self.protocol
        if protocol is not None and not protocol.closed:
            protocol.abort()


class Backoff:
    """Exponential backoff with jitter between two bounds.

    Jitter spreads reconnects of several dialer processes after a PBX restart;
    the lower bound keeps a flapping link from being hammered.
    """

    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        if not 0 < minimum <= maximum:
            raise ValueError(f"backoff bounds {minimum}..{maximum}: need 0 < minimum <= maximum")
        self._min = minimum
        self._max = maximum
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; grows until it reaches the maximum."""
        ceiling = min(self._max, self._min * 2 ** min(self._attempt, _MAX_BACKOFF_EXPONENT))
        self._attempt += 1
        return self._rng.uniform(max(self._min, ceiling / 2), ceiling)

    def reset(self) -> None:
        """Start again from the minimum (after a link that came up)."""
        self._attempt = 0


class AmiClient:
    """One AMI connection to Asterisk that survives Asterisk, network and consumer hiccups.

    Use as ``async with AmiClient(pbx) as ami:`` and consume ``ami.events()`` in
    exactly one task. All configuration comes from :class:`PbxSettings`. ``health`` counts crashes
    of the periodic snapshot task (the application's, so ``/metrics`` shows them).
    """

    def __init__(self, pbx: PbxSettings, *, clock: Clock | None = None, health: TaskHealth | None = None) -> None:
        _check_settings(pbx)
        self._pbx = pbx
        self._clock = clock or SystemClock()
        self._health = health or TaskHealth()
        self._backoff = Backoff(pbx.reconnect_min_s, pbx.reconnect_max_s)
        # None marks the end of the stream (put by close() into an empty queue).
        self._queue: EventBuffer[AmiEvent | None] = EventBuffer(pbx.event_queue_size)
        self._low_water = pbx.event_queue_size // 2
        self._drained = asyncio.Event()
        self._link: _Link | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closed = False
        self._consuming = False
        self._where = f"{pbx.ami_host}:{pbx.ami_port}"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, log in, wait for FullyBooted, reconcile; then keep the link alive.

        Raises AmiConnectError or AmiAuthError (naming host, port and user) when the
        first connection cannot be made (:class:`AmiConnectTimeout` once Asterisk has not
        answered in time for ``pbx.first_connect_retry_s``); later losses are repaired in
        the background.
        """
        if self._started:
            raise RuntimeError("AmiClient.start() was already called")
        self._started = True
        self._link = await self._first_connect()
        self._tasks = [
            asyncio.create_task(self._supervise(), name="ami-supervisor"),
            asyncio.create_task(self._keepalive(), name="ami-keepalive"),
        ]
        if self._pbx.reconcile_interval_s > 0:
            reconcile = supervised(RECONCILE_TASK, self._reconcile_periodically, self._health)
            self._tasks.append(asyncio.create_task(reconcile, name=RECONCILE_TASK))
        log.info("ami_connected", host=self._pbx.ami_host, port=self._pbx.ami_port, user=self._pbx.ami_user)

    async def close(self) -> None:
        """Stop the supervisor and liveness tasks and close the link; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            await self._retire(link, "client closed")
        if not self._queue:
            self._queue.put_nowait(None)
        log.info("ami_closed", host=self._pbx.ami_host, port=self._pbx.ami_port)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while actions can be sent (logged in, booted, reconciled, not lost)."""
        return self._link is not None and self._link.usable

    @property
    def pending_actions(self) -> int:
        """Actions sent on the current link and still waiting for their reply."""
        protocol = None if self._link is None else self._link.protocol
        return 0 if protocol is None else protocol.pending()

    # -- events ------------------------------------------------------------------------------

    async def events(self) -> AsyncGenerator[AmiEvent, None]:
        """Every event in arrival order, link events included; ends after :meth:`close`.

        One consumer only: two would each see half the calls' events.
        """
        if self._consuming:
            raise RuntimeError("AmiClient.events() already has a consumer")
        self._consuming = True
        try:
            queue = self._queue
            while not (self._closed and not queue):
                item = queue.take() if queue else await queue.get()
                if item is None:
                    return
                if len(queue) <= self._low_water:
                    self._drained.set()
                yield item
        finally:
            self._consuming = False

    def _dispatch(self, link: _Link, messages: list[Message]) -> None:
        """The events of one read, in order: runs inside data_received, so it must never raise or block.

        They share one timestamp (they arrived together) and enter the queue together.
        """
        if link.overflowed:
            link.dropped += len(messages)
            return
        at = self._clock.now()
        events: list[AmiEvent] = []
        for i, message in enumerate(messages):
            try:
                event = from_message(message, at)
            except Exception:
                log.exception("ami_event_handler_failed", name=message.name)
                continue
            if type(event) is FullyBooted and not link.up:
                # LinkUp goes first, and connect() hears of the boot only once it is queued.
                if not self._admit(link, events):
                    link.dropped += len(messages) - i
                    return
                link.up = True
                if not self._admit(link, [LinkUp(at=at)]):
                    link.dropped += len(messages) - i
                    return
                link.booted.set_result(None)
                events = []
            events.append(event)
            if isinstance(event, RawEvent) and event.name.lower() == "shutdown":
                if not self._admit(link, events):
                    link.dropped += len(messages) - i - 1
                    return
                events = []
                link.abort("Asterisk is shutting down")
        self._admit(link, events)

    def _admit(self, link: _Link, events: list[AmiEvent]) -> bool:
        """Queue ``events``; on overflow drop the link (see the module's backpressure policy). False then."""
        admitted = self._queue.put_many(events)
        if admitted == len(events):
            return True
        link.overflowed = True
        link.dropped += len(events) - admitted
        log.error(
            "ami_event_queue_full",
            size=self._pbx.event_queue_size,
            policy="dropping the link; reconnect and reconcile once the consumer has caught up",
        )
        link.abort("event queue overflow: the event consumer is too slow")
        return False

    async def _emit_link_down(self, link: _Link) -> None:
        if not link.up or link.down_sent:
            return
        link.down_sent = True
        event = LinkDown(
            at=self._clock.now(), reason=link.lost.result() if link.lost.done() else link.abort_reason or ""
        )
        if not self._closed:
            await self._queue.put(event)
            return
        try:
            self._queue.put_nowait(event)
        except BufferFull:
            log.warning("ami_link_down_not_queued", reason=event.reason)
        if link.overflowed:
            log.warning("ami_events_dropped", count=link.dropped)

    # -- connecting ----------------------------------------------------------------------------

    async def _first_connect(self) -> _Link:
        """Connect; while Asterisk only does not answer in time, try again until the budget is spent.

        A refused connection or login is a definite answer (wrong port, wrong secret) and is raised
        at once: the person starting the service must read it now, not in a minute.
        """
        budget = self._pbx.first_connect_retry_s
        started = self._clock.monotonic()
        attempt = 1
        while True:
            try:
                link = await self._connect()
            except AmiConnectTimeout as exc:
                left = budget - (self._clock.monotonic() - started)
                if left <= 0:
                    raise
                delay = min(self._backoff.next_delay(), left)
                log.warning("ami_first_connect_retry", attempt=attempt, error=str(exc), retry_in_s=round(delay, 3))
                await asyncio.sleep(delay)
                attempt += 1
                continue
            self._backoff.reset()
            return link

    async def _connect(self) -> _Link:
        loop = asyncio.get_running_loop()
        link = _Link(loop)
        link.manager = _Manager(self._pbx, link.on_lost, partial(self._dispatch, link), link.abort)
        timeout = self._pbx.action_timeout_s
        user = self._pbx.ami_user
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(partial(_Protocol, link.manager), self._pbx.ami_host, self._pbx.ami_port)
        except TimeoutError:
            raise AmiConnectTimeout(
                f"cannot reach Asterisk AMI at {self._where} (user {user!r}): no TCP connection within {timeout}s"
            ) from None
        except OSError as exc:
            raise AmiConnectError(f"cannot reach Asterisk AMI at {self._where} (user {user!r}): {exc}") from None
        try:
            await self._login(link)
            done, _ = await asyncio.wait((link.booted, link.lost), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if link.booted not in done:
                raise AmiConnectTimeout(
                    f"Asterisk AMI at {self._where} accepted user {user!r} but did not report FullyBooted within {timeout}s"
                )
            await self._reconcile(link)
        except BaseException as exc:
            await self._retire(link, f"connect failed: {exc}" if str(exc) else "connect cancelled")
            raise
        return link

    async def _login(self, link: _Link) -> None:
        user = self._pbx.ami_user
        login = _Action(
            {"Action": "Login", "Username": user, "Secret": self._pbx.ami_secret, "Events": "on"}, as_list=False
        )
        try:
            reply = await self._request(link, login, self._pbx.action_timeout_s)
        except AmiTimeout:
            raise AmiConnectTimeout(
                f"Asterisk AMI at {self._where} did not answer the login of user {user!r} within {self._pbx.action_timeout_s}s"
            ) from None
        except AmiLinkDown:
            raise AmiConnectError(
                f"Asterisk AMI at {self._where} closed the connection during login of user {user!r}"
            ) from None
        message: Message = reply.source
        if _is_error(message):
            reason = message.get("Message") or message.name
            # A PBX on its way down refuses every login: that is "try again", not a wrong secret.
            error = AmiConnectError if "shutting down" in reason.lower() else AmiAuthError
            raise error(f"Asterisk AMI at {self._where} refused login of user {user!r}: {reason}")

    async def _reconcile(self, link: _Link) -> None:
        try:
            await self._snapshot(link, periodic=False)
        except (AmiTimeout, AmiLinkDown, AmiActionError) as exc:
            error = AmiConnectTimeout if isinstance(exc, AmiTimeout) else AmiConnectError
            raise error(f"Asterisk AMI at {self._where}: CoreShowChannels after login failed: {exc}") from None

    async def _snapshot(self, link: _Link, *, periodic: bool) -> None:
        """``CoreShowChannels`` on ``link``; its Reconciled enters the stream where the reply completed."""
        snapshot = _Action({"Action": "CoreShowChannels"})
        snapshot.on_complete = partial(self._on_snapshot, link, periodic)
        reply = self._check("CoreShowChannels", await self._request(link, snapshot, self._pbx.action_timeout_s))
        # Every minute on a live link is routine: only the snapshot of a new link is worth an info line.
        (log.debug if periodic else log.info)(
            "ami_reconciled", channels=len(_channel_entries(reply)), periodic=periodic
        )

    def _on_snapshot(self, link: _Link, periodic: bool, reply: Any) -> None:
        if isinstance(reply, list):
            channels = _channels([pm.source for pm in reply])
            self._admit(link, [Reconciled(at=self._clock.now(), channels=channels, periodic=periodic)])

    async def _reconcile_periodically(self) -> None:
        """A snapshot every ``reconcile_interval_s`` on a live link: calls whose Hangup was missed show as gone.

        A failed snapshot is only logged: a link that is really down is noticed by the supervisor,
        and the snapshot after its reconnect settles everything anyway.
        """
        while True:
            await asyncio.sleep(self._pbx.reconcile_interval_s)
            link = self._link
            if link is None or not link.usable:
                continue
            try:
                await self._snapshot(link, periodic=True)
            except (AmiTimeout, AmiLinkDown, AmiActionError) as exc:
                log.warning("ami_periodic_reconcile_failed", error=str(exc))

    async def _retire(self, link: _Link, reason: str) -> None:
        """Close a link for good, wait until the transport is gone, and tell the consumer."""
        link.abort(reason)
        if link.protocol is not None:
            await asyncio.wait((link.lost,), timeout=self._pbx.action_timeout_s)
        await self._emit_link_down(link)

    async def _supervise(self) -> None:
        """Wait for the link to die, then rebuild it (backoff, drain, fresh Manager, reconcile)."""
        while True:
            link = self._link
            if link is None:
                self._link = await self._reconnect()
                continue
            await asyncio.wait((link.lost,))
            self._link = None
            log.warning("ami_link_down", host=self._pbx.ami_host, port=self._pbx.ami_port, reason=link.lost.result())
            await self._emit_link_down(link)
            if link.overflowed:
                log.warning("ami_events_dropped", count=link.dropped)
                while len(self._queue) > self._low_water:
                    self._drained.clear()
                    await self._drained.wait()
            self._link = await self._reconnect()

    async def _reconnect(self) -> _Link:
        while True:
            delay = self._backoff.next_delay()
            await asyncio.sleep(delay)
            try:
                link = await self._connect()
            except AmiError as exc:
                log.warning("ami_reconnect_failed", error=str(exc), attempt_delay_s=round(delay, 3))
                continue
            except Exception:
                # A bug must not end reconnecting for good; keep trying at the backoff pace.
                log.exception("ami_reconnect_crashed", attempt_delay_s=round(delay, 3))
                continue
            self._backoff.reset()
            log.info("ami_reconnected", host=self._pbx.ami_host, port=self._pbx.ami_port)
            return link

    async def _keepalive(self) -> None:
        """Ping on an interval; no reply in time means a dead (possibly half-open) link: tear it down."""
        timeout = self._pbx.ping_timeout_s
        while True:
            await asyncio.sleep(self._pbx.ping_interval_s)
            link = self._link
            if link is None or not link.usable:
                continue
            try:
                await self._request(link, _Action({"Action": "Ping"}, as_list=False), timeout)
            except AmiTimeout:
                log.warning("ami_ping_timeout", host=self._pbx.ami_host, port=self._pbx.ami_port, timeout_s=timeout)
                link.abort(f"no answer to Ping within {timeout}s")
            except AmiLinkDown:
                continue

    # -- actions -----------------------------------------------------------------------------

    async def _request(self, link: _Link, action: _Action, timeout: float) -> Any:
        protocol = link.protocol
        if protocol is None or protocol.closed:
            raise AmiLinkDown(f"AMI link to {self._where} is down: {action['Action']} was not sent", sent=False)
        future = protocol.send(action, as_list=action.as_list)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise AmiTimeout(f"{action['Action']}: no reply from Asterisk at {self._where} within {timeout}s") from None
        finally:
            protocol.forget(action)

    def _check(self, name: str, reply: Any) -> Message | list[Message]:
        if isinstance(reply, list):
            messages = [pm.source for pm in reply]
            first = messages[0]
        else:
            messages = None
            first = reply.source
        if _is_error(first):
            raise AmiActionError(name, first.get("Message"))
        return first if messages is None else messages

    async def action(self, name: str, timeout: float | None = None, **fields: FieldValue) -> Message | list[Message]:
        """Send one AMI action and return its reply (a list for event-list actions).

        Values must be text (a sequence repeats the header). Raises AmiLinkDown at
        once while disconnected, AmiTimeout after ``timeout`` (default
        ``pbx.action_timeout_s``), AmiActionError on ``Response: Error``. An
        ``Originate`` is always sent async.
        """
        checked = _checked_fields(name, fields)
        as_list: bool | None = None
        if name.lower() == "originate":
            checked = _async_originate(checked)
            as_list = False
        link = self._link
        if link is None or not link.usable:
            raise AmiLinkDown(f"AMI link to {self._where} is down: {name} was not sent", sent=False)
        action = _Action({"Action": name, **checked}, as_list=as_list)
        reply = await self._request(link, action, self._pbx.action_timeout_s if timeout is None else timeout)
        return self._check(name, reply)

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        channel_id: str,
        other_channel_id: str,
        timeout_ms: int,
        caller_id: str = "",
        variables: Mapping[str, str],
    ) -> None:
        """Ask Asterisk to place a call; returns once Asterisk queued it.

        The outcome arrives later as events (OriginateResponse with
        ``uniqueid == channel_id``, Hangup, DialEnd ...). On AmiLinkDown or
        AmiTimeout the call may or may not exist: it is never re-sent; look for
        ``channel_id`` in the next :class:`Reconciled` instead.
        """
        fields: dict[str, FieldValue] = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "ChannelId": channel_id,
            "OtherChannelId": other_channel_id,
            "Timeout": str(timeout_ms),
            "Async": "true",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{_variable_name(k)}={v}" for k, v in variables.items()]
        await self.action("Originate", None, **fields)

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        """Send a channel to another place in the dialplan (e.g. to the agent)."""
        await self.action("Redirect", Channel=channel, Context=context, Exten=exten, Priority=str(priority))

    async def redirect_both(
        self, channel: str, context: str, exten: str, extra_channel: str, extra_context: str, extra_exten: str
    ) -> None:
        """Send two channels elsewhere at once (the two sides of a bridge: neither is hung up for the other leaving)."""
        await self.action(
            "Redirect", Channel=channel, Context=context, Exten=exten, Priority="1",
            ExtraChannel=extra_channel, ExtraContext=extra_context, ExtraExten=extra_exten, ExtraPriority="1",
        )  # fmt: skip

    async def confbridge_mute(self, conference: str, channel: str, *, mute: bool) -> None:
        """Mute (or unmute) one channel in a ConfBridge: the others stop (or start again) hearing it."""
        await self.action("ConfbridgeMute" if mute else "ConfbridgeUnmute", Conference=conference, Channel=channel)

    async def hangup(self, channel: str, cause: int = 16) -> None:
        """Hang a channel up with a Q.850 cause (16: normal clearing)."""
        await self.action("Hangup", Channel=channel, Cause=str(cause))

    async def setvar(self, channel: str, name: str, value: str) -> None:
        """Set a channel variable."""
        await self.action("Setvar", Channel=channel, Variable=_variable_name(name), Value=value)

    async def core_show_channels(self) -> tuple[ChannelInfo, ...]:
        """Every live channel in Asterisk right now."""
        reply = await self.action("CoreShowChannels")
        return _channels(reply if isinstance(reply, list) else [reply])

    async def command(self, text: str) -> str:
        """Run an Asterisk CLI command and return its output text."""
        message = _first(await self.action("Command", Command=text))
        lines = message.get_all("Output") or message.output
        return "\n".join(lines)

    async def getvar(self, name: str) -> str:
        """A global dialplan variable's value ("" when it is not set)."""
        return _first(await self.action("Getvar", Variable=name)).get("Value") or ""

    async def allowed_actions(self) -> frozenset[str]:
        """The actions this AMI user may send, lower-cased (``ListCommands``)."""
        return frozenset(key.lower() for key, _ in _first(await self.action("ListCommands")).headers)

    async def ping(self) -> float:
        """Round-trip one Ping; returns the seconds it took."""
        started = self._clock.monotonic()
        await self.action("Ping")
        return self._clock.monotonic() - started


def _check_settings(pbx: PbxSettings) -> None:
    """Refuse settings the client cannot work with, naming the setting and its value."""
    for name in ("action_timeout_s", "ping_interval_s", "ping_timeout_s", "reconnect_min_s", "reconnect_max_s"):
        value = getattr(pbx, name)
        if not value > 0:
            raise ValueError(f"pbx.{name} = {value}: must be positive")
    if pbx.reconnect_min_s > pbx.reconnect_max_s:
        raise ValueError(
            f"pbx.reconnect_min_s = {pbx.reconnect_min_s}: must not exceed reconnect_max_s = {pbx.reconnect_max_s}"
        )
    if pbx.event_queue_size < _LINK_START_EVENTS:
        raise ValueError(
            f"pbx.event_queue_size = {pbx.event_queue_size}: must be at least {_LINK_START_EVENTS} "
            "(room for LinkUp, FullyBooted and Reconciled of a new link)"
        )


def _channel_entries(reply: Message | list[Message]) -> list[Message]:
    messages = reply if isinstance(reply, list) else [reply]
    return [m for m in messages if m.kind is MessageKind.EVENT and m.name.lower() == "coreshowchannel"]


def _channels(messages: list[Message]) -> tuple[ChannelInfo, ...]:
    out: list[ChannelInfo] = []
    for message in _channel_entries(messages):
        try:
            out.append(channel_info(message))
        except EventFieldError as exc:
            log.warning("ami_channel_unparsed", error=str(exc), channel=message.get("Channel"))
    return tuple(out)


def _checked_fields(action: str, fields: Mapping[str, FieldValue]) -> dict[str, FieldValue]:
    """Validate header names and values: a line break in a value would inject AMI headers."""
    if not _HEADER_NAME.match(action):
        raise ValueError(f"AMI action name {action!r}: letters, digits, '_' or '-' only")
    out: dict[str, FieldValue] = {}
    for key, value in fields.items():
        if not _HEADER_NAME.match(key):
            raise ValueError(f"AMI {action}: field name {key!r}: letters, digits, '_' or '-' only")
        values = [value] if isinstance(value, str) else list(value)
        for item in values:
            if not isinstance(item, str):
                raise TypeError(f"AMI {action}: field {key} = {item!r}: expected text")
            if "\r" in item or "\n" in item:
                raise ValueError(f"AMI {action}: field {key} = {item!r}: line breaks are not allowed")
        out[key] = value if isinstance(value, str) else values
    return out


def _async_originate(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """Force ``Async: true``: a synchronous Originate blocks its reply for the whole ring time."""
    out: dict[str, FieldValue] = {}
    for key, value in fields.items():
        if key.lower() == "async":
            if not isinstance(value, str) or value.lower() not in _TRUE:
                raise ValueError(f"AMI Originate: field Async = {value!r}: only asynchronous Originate is supported")
            continue
        out[key] = value
    out["Async"] = "true"
    return out


def _variable_name(name: str) -> str:
    if not name or "=" in name or not name.isprintable() or " " in name:
        raise ValueError(
            f"channel variable name {name!r}: must be non-empty, without '=', spaces or control characters"
        )
    return name


def _first(reply: Message | list[Message]) -> Message:
    """The reply of an action that answers with one message."""
    return reply[0] if isinstance(reply, list) else reply
