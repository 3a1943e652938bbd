"""The supervisor wallboard: one snapshot source, one broadcaster task, many viewers.

Viewers never query anything themselves: the :class:`Broadcaster` asks its
:class:`SnapshotSource` at most once per interval and hands the same snapshot to every
viewer, so fifty screens cost what one costs. Each viewer has a small bounded queue;
a viewer too slow to keep up loses stale snapshots (the newest always wins) instead of
making the server buffer without limit. That is the backpressure.

:class:`StoreSnapshotSource` builds snapshots from the attempts in flight, the AMI link, KPIs,
the month's targets, due leads, the disk watch, the agents' presence and the rosters of the campaign runners of this
process (each agent's state and since when), and each active campaign's progress.

An agent's time in their state is NOT in the frame: the frame carries ``since`` (which changes
only when the state does) and the page counts the seconds itself, so a room where nothing
happens sends no frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dialer.app import App
from dialer.campaigns.registry import RunnerRegistry
from dialer.domain.access.dealers import DealerScope
from dialer.domain.access.policy import Role
from dialer.domain.calls.attempts import Attempt
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.campaigns.agents import AgentState
from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.domain.campaigns.presence import board_state, default_presence
from dialer.domain.campaigns.progress import ProgressStatus
from dialer.domain.campaigns.stats import AbandonTally, abandon_tallies, window_since
from dialer.domain.kpi.metrics import Month
from dialer.domain.kpi.targets import TargetProgress
from dialer.kpi.service import monthly_kpis
from dialer.leads.service import DueScope
from dialer.logs import get_logger
from dialer.phone import mask
from dialer.timestamps import to_db, to_db_or_none

log = get_logger(__name__)


class AgentActivity(StrEnum):
    """Whether an agent's phone has a call now, from the attempts table (inbound calls included)."""

    IN_CALL = "in_call"  # has an attempt in flight
    NOT_IN_CALL = "not_in_call"  # no call now (``state`` tells available / wrap-up / paused apart)


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """One agent's line on the wallboard: the call flag, the working state, since when, the pause reason."""

    agent: str
    activity: AgentActivity
    calls_today: int
    state: AgentState
    since: datetime | None  # None: available by default, never changed from the desk
    reason: str | None  # the pause reason while paused


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """A campaign's progress: its leads (enrolled, done), attempts (dialled, in flight now) and calls ended today."""

    campaign_id: int
    in_flight: int
    ended_today: int
    name: str
    status: str
    enrolled: int
    dialled: int
    done: int


@dataclass(frozen=True, slots=True)
class InboundWaits:
    """How long inbound callers wait for an agent (own agent ringing, then the queue), from the attempts table.

    The wait runs from the moment the PBX answered the caller (the attempt's ``created_at``)
    to the moment an agent's phone took the call (``connected_at``).
    """

    waiting: int = 0  # inbound calls in flight that no agent has taken yet
    longest_wait_s: int | None = None  # the longest of those waits so far, whole seconds
    connected_today: int = 0  # inbound calls an agent took today
    average_wait_today_s: float | None = None  # their average wait


@dataclass(frozen=True, slots=True)
class LineStatus:
    """One line in use: the board's "what each line is doing" (handbook: 8 out, 4 in).

    Lines have no number of their own at the PBX (a call takes any free trunk channel), so
    the board numbers the calls in flight per direction, oldest first. ``since`` is when the
    call reached its current stage, so the board can say how long it has been ringing or talking.
    """

    direction: Direction
    number: str  # masked: the wallboard is on a screen the whole room sees
    state: CallState
    since: datetime
    agent: str | None
    campaign_id: int | None

    @classmethod
    def of(cls, attempt: Attempt) -> LineStatus:
        """The line an attempt in flight holds."""
        stage = {CallState.CONNECTED: attempt.connected_at, CallState.ANSWERED: attempt.answered_at,
                 CallState.RINGING: attempt.started_at}.get(attempt.state)  # fmt: skip
        return cls(attempt.direction, mask(attempt.number) if attempt.number else "-", attempt.state,
                   stage or attempt.created_at, attempt.agent, attempt.campaign_id)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one wallboard frame shows. Equal snapshots (ignoring ``at``) are not re-sent."""

    at: datetime
    outbound_in_use: int
    outbound_lines: int
    inbound_in_use: int
    inbound_lines: int
    ami_connected: bool | None  # None: this process has no AMI link (store-only console)
    agents: tuple[AgentStatus, ...]
    campaigns: tuple[CampaignProgress, ...]
    calls_today: int
    answered_today: int
    abandon_today: AbandonTally
    abandon_30d: AbandonTally
    follow_up_rate_month: float | None  # percent
    invite_rate_month: float | None  # percent
    deals_month: int
    overdue_leads: int
    disk: dict[str, Any] | None
    inbound_waits: InboundWaits = InboundWaits()  # a source without inbound routing has nobody waiting
    lines: tuple[LineStatus, ...] = ()  # the calls in flight, oldest first
    targets: tuple[TargetProgress, ...] = ()  # the sales manager's targets for the month, and the progress

    def to_json(self) -> dict[str, Any]:
        """The websocket message body."""
        data = asdict(self)
        data["at"] = to_db(self.at)
        for agent in data["agents"]:
            agent["since"] = to_db_or_none(agent["since"])
        for line in data["lines"]:
            line["since"] = to_db(line["since"])
        for key in ("abandon_today", "abandon_30d"):
            tally: AbandonTally = getattr(self, key)
            data[key]["rate"] = tally.rate
        data["targets"] = [p.to_json() for p in self.targets]
        return data

    def same_as(self, other: Snapshot | None) -> bool:
        """Nothing a viewer would see has changed."""
        if other is None:
            return False
        mine, theirs = self.to_json(), other.to_json()
        mine.pop("at"), theirs.pop("at")
        return mine == theirs


class SnapshotSource(Protocol):
    """Where snapshots come from; the broadcaster calls it once per interval, whoever watches."""

    async def snapshot(self) -> Snapshot:
        """The state of the room now."""
        ...


@dataclass(frozen=True, slots=True)
class _Slow:
    """The expensive part of a snapshot, recomputed at most every ``wallboard_slow_refresh_s``."""

    at: float
    follow_up_rate: float | None
    invite_rate: float | None
    deals: int
    overdue: int
    targets: tuple[TargetProgress, ...]


class StoreSnapshotSource:
    """A :class:`SnapshotSource` over the store, the AMI client and the disk watch of a dialer App."""

    def __init__(self, app: App, runners: RunnerRegistry) -> None:
        self._app = app
        self._runners = runners
        self._tz = ZoneInfo(app.settings.dealer.timezone)
        self._slow: _Slow | None = None

    async def snapshot(self) -> Snapshot:
        """One frame: cheap counts every time, KPIs and overdue leads from a cache refreshed slowly."""
        app = self._app
        now = app.clock.now()
        day_start = datetime.combine(now.astimezone(self._tz).date(), time(), self._tz)
        in_flight = await app.attempts.in_flight()
        ended_today = await app.attempts.ended_by(day_start)
        busy_since: dict[str, datetime] = {}
        for a in in_flight:
            if a.agent:
                busy_since[a.agent] = min(a.created_at, busy_since.get(a.agent, a.created_at))
        presence = await app.presence.current()
        agents = []
        for name in await self._agent_names():
            board = board_state(presence.get(name) or default_presence(name), self._runners.sessions_of(name))
            if name in busy_since and board.state is AgentState.AVAILABLE:
                # A call no campaign runner holds (inbound, or a runner in another process).
                board = dataclasses.replace(board, state=AgentState.ON_CALL, since=busy_since[name])
            agents.append(AgentStatus(
                agent=name,
                activity=AgentActivity.IN_CALL if name in busy_since else AgentActivity.NOT_IN_CALL,
                calls_today=sum(n for (agent, _c, _o), n in ended_today.items() if agent == name),
                state=board.state, since=board.since, reason=board.reason,
            ))  # fmt: skip
        campaigns = await self._campaigns(in_flight, ended_today)
        by_outcome: Counter[Outcome] = Counter()
        for (_a, _c, outcome), n in ended_today.items():
            by_outcome[outcome] += n
        # The abandonment guard's definition over every outbound call (docs/pacing.md): the same function.
        rolling_days = app.settings.campaigns.pacing.rolling_days
        abandon_days = await app.attempts.abandonment_by_day(window_since(now, self._tz, rolling_days), self._tz)
        abandon_today, abandon_30d = abandon_tallies(abandon_days, now.astimezone(self._tz).date(), rolling_days)
        slow = await self._slow_part()
        disk = app.disk.last
        waiting = [a.created_at for a in in_flight if a.direction is Direction.INBOUND and a.connected_at is None]
        connected_today, average_wait = await app.attempts.inbound_waits_since(day_start)
        return Snapshot(
            at=now,
            outbound_in_use=sum(1 for a in in_flight if a.direction is Direction.OUTBOUND),
            outbound_lines=app.settings.pbx.outbound_lines,
            inbound_in_use=sum(1 for a in in_flight if a.direction is Direction.INBOUND),
            inbound_lines=app.settings.pbx.inbound_lines,
            ami_connected=None if app.ami is None else app.ami.connected,
            agents=tuple(agents),
            campaigns=campaigns,
            calls_today=sum(by_outcome.values()),
            answered_today=by_outcome[Outcome.ANSWERED],
            abandon_today=abandon_today,
            abandon_30d=abandon_30d,
            follow_up_rate_month=slow.follow_up_rate,
            invite_rate_month=slow.invite_rate,
            deals_month=slow.deals,
            overdue_leads=slow.overdue,
            targets=slow.targets,
            disk=None if disk is None else disk.to_json_dict(),
            lines=tuple(LineStatus.of(a) for a in sorted(in_flight, key=lambda a: (a.created_at, a.id))),
            inbound_waits=InboundWaits(
                waiting=len(waiting),
                # Whole seconds: a wait growing by fractions would make every frame "changed".
                longest_wait_s=int((now - min(waiting)).total_seconds()) if waiting else None,
                connected_today=connected_today,
                average_wait_today_s=average_wait,
            ),
        )

    def _dealer(self) -> DealerScope:
        """The wallboard is this node's dealer's (views_wallboard refuses it to another dealer's people)."""
        return DealerScope.of(self._app.dealer.id)

    async def _agent_names(self) -> list[str]:
        """Agents with a login, and agents a campaign of this process lists without one."""
        logins = {
            u.agent
            for u in await self._app.auth.users(self._dealer())
            if u.role is Role.AGENT and u.agent and u.disabled_at is None
        }
        return sorted(logins | {s.agent_id for runner in self._runners.runners() for s in runner.roster})

    async def _campaigns(
        self, in_flight: list[Attempt], ended_today: Counter[tuple[str | None, int | None, Outcome]]
    ) -> tuple[CampaignProgress, ...]:
        """Running and paused campaigns, and any other with calls today: progress from ``campaign status``."""
        app = self._app
        active = {
            c.id
            for c in await app.campaigns.all(self._dealer())
            if c.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)
        }
        ids = sorted(active | {a.campaign_id for a in in_flight if a.campaign_id is not None}
                     | {c for (_a, c, _o) in ended_today if c is not None})  # fmt: skip
        out = []
        for cid in ids:
            report = await app.campaigns.status(cid)
            out.append(CampaignProgress(
                campaign_id=cid,
                in_flight=sum(1 for a in in_flight if a.campaign_id == cid),
                ended_today=sum(n for (_a, c, _o), n in ended_today.items() if c == cid),
                name=report.campaign.definition.name, status=report.campaign.status.value, enrolled=report.enrolled,
                dialled=report.dialled, done=report.by_status.get(ProgressStatus.DONE, 0),
            ))  # fmt: skip
        return tuple(out)

    async def _slow_part(self) -> _Slow:
        app = self._app
        mono = app.clock.monotonic()
        if self._slow is None or mono - self._slow.at >= app.settings.web.wallboard_slow_refresh_s:
            kpis = await monthly_kpis(
                app.db, app.settings, app.clock, Month.containing(app.clock.now(), self._tz), dealers=self._dealer()
            )
            overdue = await app.leads.due(DueScope.OVERDUE, dealers=self._dealer())
            self._slow = _Slow(
                mono, kpis.follow_up_rate.percent, kpis.invite_to_store_rate.percent, kpis.deals, len(overdue),
                kpis.targets,
            )  # fmt: skip
        return self._slow


class Broadcaster:
    """Polls one :class:`SnapshotSource` and fans each changed snapshot out to every viewer's queue."""

    def __init__(self, source: SnapshotSource, interval_s: float, viewer_queue: int) -> None:
        self._source = source
        self._interval_s = interval_s
        self._viewer_queue = viewer_queue
        self._viewers: set[asyncio.Queue[Snapshot]] = set()
        self._latest: Snapshot | None = None
        self._ready = asyncio.Event()

    @property
    def latest(self) -> Snapshot | None:
        """The last snapshot taken (the REST endpoint and new viewers start from it)."""
        return self._latest

    @property
    def viewers(self) -> int:
        """How many viewers are subscribed now (a metric)."""
        return len(self._viewers)

    async def wait_ready(self) -> Snapshot:
        """The first snapshot, once the broadcaster took it."""
        await self._ready.wait()
        assert self._latest is not None
        return self._latest

    async def run(self) -> None:
        """Take a snapshot every interval, publish it when it changed; a failing source is logged, not fatal."""
        while True:
            try:
                snapshot = await self._source.snapshot()
            except Exception as exc:
                log.error("wallboard.snapshot_failed", error=repr(exc))
            else:
                if not snapshot.same_as(self._latest):
                    self._latest = snapshot
                    self._publish(snapshot)
                self._ready.set()
            await asyncio.sleep(self._interval_s)

    def _publish(self, snapshot: Snapshot) -> None:
        for queue in self._viewers:
            while queue.full():
                queue.get_nowait()  # the viewer is behind: drop its oldest, never block the others
            queue.put_nowait(snapshot)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Snapshot]]:
        """A viewer's queue for as long as the viewer stays; starts with the latest snapshot."""
        queue: asyncio.Queue[Snapshot] = asyncio.Queue(maxsize=self._viewer_queue)
        if self._latest is not None:
            queue.put_nowait(self._latest)
        self._viewers.add(queue)
        try:
            yield queue
        finally:
            self._viewers.discard(queue)
