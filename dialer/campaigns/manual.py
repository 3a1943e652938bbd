"""Manual calls: a person clicks "call" on a lead (the desk, the lead card, ``POST /api/calls``).

The call is an attempt like a campaign's: its row is committed before the Originate, it is
recorded, ends with an outcome, and the agent files its result through the disposition form
(DOSS). It rings the caller's own phone first and dials the customer once they pick up
(:meth:`CallService.dial` with ``agent_first``; docs/telephony.md says why), so an answering
customer never waits for anyone and no manual call is ever abandoned.

The campaigns' rules decide whether the call may be placed, in one place
(:func:`~dialer.domain.campaigns.why.manual_blockers`): an opted-out lead or a number on the
do-not-call list is never called, the calling windows hold unless a supervisor overrides them
(written into the lead's history with who and why), and one lead is never in two calls at once.
Lines come from the one counter campaigns use (:attr:`CallService.lines`): a manual call never
waits for a line, it is refused at once when all are busy.

While an agent is on a manual call, campaign runners read them as paused (:meth:`current`), so a
campaign does not put a customer through to a phone that is already talking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dialer.clock import Clock
from dialer.domain.calls.attempts import Attempt
from dialer.domain.campaigns.policy import CallingWindows
from dialer.domain.campaigns.presence import PhoneState, Presence, PresenceReader
from dialer.domain.campaigns.progress import CampaignRepository
from dialer.domain.campaigns.why import Blocker, manual_blockers
from dialer.logs import get_logger
from dialer.phone import InvalidPhone, mask, normalize
from dialer.settings import Settings
from dialer.store.leads import LeadStore
from dialer.tasks import BackgroundTasks
from dialer.telephony.calls import CallService
from dialer.telephony.lines import LinesBusy

log = get_logger(__name__)

# The pause reason campaign runners see for an agent on a manual call (wallboard, runner logs).
ON_MANUAL_CALL = "manual_call"


class ManualCallRefused(Exception):
    """The call was not placed; ``code`` says why in a word the faces map to an answer.

    ``no_lead`` (no such lead), ``number`` (not one of the lead's numbers), ``not_allowed`` (the
    campaigns' rules: ``blockers`` names each), ``agent_busy`` (the phone is on a call),
    ``line_limit`` (every outbound line is in use).
    """

    def __init__(self, code: str, message: str, blockers: tuple[Blocker, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.blockers = blockers


@dataclass(slots=True)
class _Live:
    """An agent's manual call: reserved at the click, its attempt known once the row is committed."""

    since: datetime
    attempt: Attempt | None = None


class ManualCalls:
    """Places manual calls and follows each to its end in the background."""

    def __init__(
        self,
        *,
        calls: CallService,
        campaigns: CampaignRepository,
        leads: LeadStore,
        presence: PresenceReader,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._calls = calls
        self._campaigns = campaigns
        self._leads = leads
        self._presence = presence
        self._settings = settings
        self._clock = clock
        self._windows = CallingWindows.from_settings(settings.campaigns.windows, settings.dealer.timezone)
        self._live: dict[str, _Live] = {}  # agent -> their manual call
        self._tasks = BackgroundTasks()

    def on_call(self, agent: str) -> Attempt | None:
        """The attempt of ``agent``'s manual call in progress, if any."""
        live = self._live.get(agent)
        return None if live is None else live.attempt

    async def place(
        self, *, lead_id: int, agent: str, actor: str, number: str | None = None, window_override: str | None = None
    ) -> Attempt:
        """Ring ``agent``'s phone, then the lead's ``number`` (default: its first number not on the
        suppression list); the attempt as committed before the Originate. The call goes on in the
        background. ``window_override``: a supervisor's reason to call outside the calling windows
        (the caller checked the role). Raises :class:`ManualCallRefused`.
        """
        facts = await self._campaigns.facts(None, lead_id)
        if not facts.exists:
            raise ManualCallRefused("no_lead", f"lead {lead_id} does not exist")
        e164 = self._number(facts.phones, {s.e164 for s in facts.suppressed}, number, lead_id)
        now = self._clock.now()
        blockers = manual_blockers(facts, e164, self._windows, now, window_override=bool(window_override))
        if blockers:
            reasons = ", ".join(b.reason.value for b in blockers)
            raise ManualCallRefused("not_allowed", f"lead {lead_id}: {reasons}", tuple(blockers))
        if agent in self._live:
            raise ManualCallRefused("agent_busy", f"{agent} is already on a manual call")
        if self._calls.lines.in_use >= self._calls.lines.capacity:
            raise ManualCallRefused("line_limit", f"all {self._calls.lines.capacity} outbound lines are in use")
        # Reserved before anything is awaited: a second click finds the phone busy. From here the call
        # and its bookkeeping run in tasks of their own, whatever becomes of the request that asked.
        live = self._live[agent] = _Live(now)
        created: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()

        def placed(attempt: Attempt) -> None:
            live.attempt = attempt
            if not created.done():
                created.set_result(attempt)

        task = self._tasks.spawn(
            self._calls.dial(
                normalize(e164, self._settings.dealer.region),
                agent=agent,
                lead_id=lead_id,
                agent_first=True,
                wait_for_line=False,
                on_attempt=placed,
            )
        )
        task.add_done_callback(lambda done: _settle(created, done))
        self._tasks.spawn(self._after(agent, lead_id, task, live))
        try:
            attempt = await asyncio.shield(created)
        except LinesBusy as exc:
            # Taken between the look above and the dial: the same answer.
            raise ManualCallRefused("line_limit", str(exc)) from None
        overridden = bool(window_override) and not self._windows.is_open(now)
        data = {"attempt_id": attempt.id, "phone": mask(e164), "agent": agent}
        if overridden:
            data["window_override"] = window_override
        await asyncio.shield(self._tasks.spawn(self._leads.record_manual_call(lead_id, now, actor, data)))
        log.info("manual_call.placed", lead_id=lead_id, agent=agent, attempt_id=attempt.id, window_override=overridden)
        return attempt

    def _number(self, phones: tuple[str, ...], suppressed: set[str], number: str | None, lead_id: int) -> str:
        """The number to call: the one asked for (which must be the lead's), else the first not on the list."""
        if not phones:
            raise ManualCallRefused("number", f"lead {lead_id} has no phone number")
        if number is None or not number.strip():
            return next((p for p in phones if p not in suppressed), phones[0])
        try:
            e164 = normalize(number, self._settings.dealer.region).e164
        except InvalidPhone as exc:
            raise ManualCallRefused("number", f"{number!r}: {exc.reason}") from None
        if e164 not in phones:
            raise ManualCallRefused("number", f"{mask(e164)} is not a number of lead {lead_id}")
        return e164

    async def _after(self, agent: str, lead_id: int, task: asyncio.Task[Attempt], live: _Live) -> None:
        """Once the call is over: free the agent; a call that reached nobody goes into the lead's history
        now (a conversation gets there with the agent's disposition, like a campaign call's)."""
        try:
            attempt = await asyncio.shield(task)
            log.info("manual_call.ended", lead_id=lead_id, agent=agent, outcome=str(attempt.outcome))
            if attempt.outcome is not None and not attempt.outcome.talked_with_agent:
                ended = attempt.ended_at or self._clock.now()
                await self._leads.record_contact(lead_id, ended, agent, attempt.outcome, attempt.id)
        except LinesBusy:
            pass  # never placed: the request was told (line_limit)
        except Exception:
            log.exception("manual_call.failed", lead_id=lead_id, agent=agent)
        finally:
            if self._live.get(agent) is live:
                del self._live[agent]

    def handed_over(self, agent: str) -> None:
        """``agent`` handed their manual call's customer to someone else (a transfer): they are free again,
        for campaigns and for their next call, while the call goes on (its bookkeeping still runs)."""
        if self._live.pop(agent, None) is not None:
            log.info("manual_call.handed_over", agent=agent)

    async def current(self) -> Mapping[str, Presence]:
        """The agents' presence as campaign runners must read it: an agent on a manual call is paused."""
        wanted = dict(await self._presence.current())
        for agent, live in self._live.items():
            wanted[agent] = Presence(agent, PhoneState.PAUSED, live.since, ON_MANUAL_CALL)
        return wanted

    async def close(self) -> None:
        """Stop following the calls in flight (a restart settles them: CallService.recover)."""
        await self._tasks.cancel()


def _settle(created: asyncio.Future[Attempt], done: asyncio.Task[Attempt]) -> None:
    """A dial that ended before its attempt existed (no free line, a store error): tell the waiter why."""
    if created.done():
        return
    if done.cancelled():
        created.cancel()
    elif (error := done.exception()) is not None:
        created.set_exception(error)
