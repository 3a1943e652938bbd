"""The event loop of the simulator: a heap of timed events in virtual time.

Every event advances a :class:`~dialer.clock.VirtualClock` and is fed to the same
:class:`~dialer.domain.campaigns.engine.CampaignEngine` the live runner drives: it keeps the agents and
the calls, feeds pacing, decides how many calls to start and who takes an answered one. Leads come
from an endless list plus the retries the same :class:`~dialer.domain.campaigns.policy.RetryPolicy`
schedules, ordered by the same prioritizer, and no call starts outside the same calling windows. One seeded RNG drives everything, in a fixed event
order, so a seed reproduces a run exactly.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import IntEnum
from typing import Any

from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.agents import AgentRoster, AgentState, Transition
from dialer.domain.campaigns.engine import CampaignEngine
from dialer.domain.campaigns.pacing import Pacer, PacingMode, make_pacer
from dialer.domain.campaigns.policy import CampaignRules, Candidate
from dialer.domain.campaigns.stats import PacingStats
from dialer.settings import PacingDefaults
from dialer.sim.errors import SimError
from dialer.sim.model import AgentModel, CustomerModel


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated shift: the room, the mode and the world it dials into."""

    mode: PacingMode
    agents: int
    lines: int
    hours: float
    seed: int
    start: datetime
    customers: CustomerModel = field(default_factory=CustomerModel)
    agent_model: AgentModel = field(default_factory=AgentModel)

    def __post_init__(self) -> None:
        if self.agents < 1 or self.lines < 1 or self.hours <= 0:
            raise SimError(f"agents = {self.agents}, lines = {self.lines}, hours = {self.hours}: all must be positive")
        if self.start.tzinfo is None:
            raise SimError(f"start = {self.start}: needs a time zone")


@dataclass(frozen=True, slots=True)
class SimResult:
    """What a shift produced; ratios are fractions (0.03 = 3 %)."""

    mode: str
    agents: int
    lines: int
    hours: float
    seed: int
    attempts: int
    answered: int  # a person picked up
    connected: int  # ... and was bridged to an agent
    abandoned: int
    retries: int  # attempts that were retries scheduled by the retry policy
    occupancy: float  # talk time over logged-in time
    abandon_rate: float  # abandoned over answered
    connects_per_agent_hour: float
    line_use: float  # mean lines held over the line cap
    max_lines: int

    def as_dict(self) -> dict[str, float | int | str]:
        """Plain values for JSON output."""
        return asdict(self)


# Builds the pacer a simulation runs from the stats it measures.
PacerFactory = Callable[[PacingStats], Pacer]


class _Ev(IntEnum):
    # Order among events at the same instant: endings before beginnings, so freed agents and
    # lines are visible to the decisions that follow.
    RING_ENDS = 0
    TALK_ENDS = 1
    WRAP_ENDS = 2
    ABANDON = 3
    PREVIEW_DONE = 4
    SHIFT_ENDS = 5


@dataclass(slots=True, eq=False)
class _Call:
    call_id: str
    lead_id: str
    dialed_at: datetime
    for_agent: str | None  # an accepted preview's agent


@dataclass(slots=True)
class _Lead:
    lead_id: str
    attempts: int = 0
    day: date | None = None
    today: int = 0


class Simulation:
    """One run of a scenario against the campaign engine the runner uses; call :meth:`run` once.

    The simulation owns only the world: customers who answer or not, agents who talk, think over a
    preview and write up, leads and their retries, and the shift. Every decision (how many to dial,
    who takes an answered call, when an agent is free) is :class:`CampaignEngine`'s.
    """

    def __init__(
        self,
        scenario: Scenario,
        rules: CampaignRules,
        pacing: PacingDefaults,
        abandon_after_s: float,
        pacer: PacerFactory | None = None,
    ) -> None:
        """``pacer``: another pacer for the scenario's mode than the product's (the bench's reference
        pacers); it gets the same measurements the product's pacer would."""
        self._sc = scenario
        self._rules = rules
        self._abandon_after_s = abandon_after_s
        self._rng = random.Random(scenario.seed)
        self._clock = VirtualClock(scenario.start)
        stats = PacingStats(pacing, self._clock, str(rules.windows.tz))
        chosen = make_pacer(scenario.mode, stats, pacing.warmup_attempts) if pacer is None else pacer(stats)
        self._engine = CampaignEngine(scenario.mode, AgentRoster(rules.wrap_up_timeout_s), stats, chosen)
        self._heap: list[tuple[float, int, int, Callable[[Any], None], Any]] = []
        self._seq = 0
        self._over = False
        self._talking: dict[str, _Call] = {}  # agent id -> call
        self._leads: dict[str, _Lead] = {}
        self._scheduled: list[tuple[float, int, Candidate]] = []  # retries by due time
        self._due: list[tuple[tuple[int, datetime, datetime, str], Candidate]] = []  # retries by priority
        self._next_lead = 0
        self._next_call = 0
        self._talk_s = 0.0
        self._line_area = 0.0
        self._max_lines = 0
        self._counts = {"attempts": 0, "answered": 0, "connected": 0, "abandoned": 0, "retries": 0}

    # --- the loop ---------------------------------------------------------------------------------

    def run(self) -> SimResult:
        """Simulate the whole shift and summarise it."""
        now = self._clock.now()
        roster = self._engine.roster
        for i in range(self._sc.agents):
            roster.add(f"a{i + 1:02d}", now)
        end = self._sc.hours * 3600.0
        self._push(end, _Ev.SHIFT_ENDS, self._end_shift, None)
        for session in roster:
            self._moved(self._engine.observe(session.login(now)))
        self._pace()
        while not self._over:
            at, _, _, handler, arg = heapq.heappop(self._heap)
            self._line_area += self._engine.lines() * (at - self._clock.monotonic())
            self._clock.advance(at - self._clock.monotonic())
            handler(arg)
            if not self._over:
                self._pace()
        for session in roster.in_state(AgentState.ON_CALL):
            self._talk_s += (self._clock.now() - session.since).total_seconds()
        return self._result(end)

    def _end_shift(self, _: None) -> None:
        self._over = True

    def _push(self, at: float, kind: _Ev, handler: Callable[[Any], None], arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, int(kind), handler, arg))

    def _after(self, seconds: float, kind: _Ev, handler: Callable[[Any], None], arg: Any) -> None:
        self._push(self._clock.monotonic() + seconds, kind, handler, arg)

    # --- calls ----------------------------------------------------------------------------------

    def _ring_ends(self, item: tuple[_Call, bool, Outcome]) -> None:
        call, person, outcome = item
        now = self._clock.now()
        if not person:
            self._ended(call, outcome)
            if call.for_agent is not None:
                self._start_preview(call.for_agent)  # the preview agent moves on to the next lead
            return
        self._counts["answered"] += 1
        agent = self._engine.answered(call.call_id, now)
        if agent is None:
            # Nobody free at the answer: the customer hears the abandon message after the hold.
            self._after(self._abandon_after_s, _Ev.ABANDON, self._abandon, call)
            return
        self._counts["connected"] += 1
        self._talking[agent] = call
        self._after(self._sc.agent_model.talk(self._rng), _Ev.TALK_ENDS, self._talk_ends, agent)

    def _abandon(self, call: _Call) -> None:
        self._counts["abandoned"] += 1
        self._ended(call, Outcome.ABANDONED)

    def _talk_ends(self, agent_id: str) -> None:
        call = self._talking.pop(agent_id)
        moved = self._engine.ended(call.call_id, Outcome.ANSWERED, self._clock.now())
        assert moved is not None, "a talk has an agent"
        self._moved(moved)
        self._retry(call, Outcome.ANSWERED)
        wrap = self._sc.agent_model.wrap_up_s
        self._after(min(wrap, self._rules.wrap_up_timeout_s), _Ev.WRAP_ENDS, self._wrap_ends, agent_id)

    def _wrap_ends(self, agent_id: str) -> None:
        now = self._clock.now()
        if self._sc.agent_model.wrap_up_s < self._rules.wrap_up_timeout_s:
            moved = self._engine.disposition(agent_id, now)
            if moved is not None:
                self._moved(moved)
        else:
            for moved in self._engine.tick(now):
                self._moved(moved)

    def _ended(self, call: _Call, outcome: Outcome) -> None:
        """An attempt ended without an agent: the engine learns from it; the lead's retry is scheduled."""
        self._engine.ended(call.call_id, outcome, self._clock.now())
        self._retry(call, outcome)

    # --- agents ---------------------------------------------------------------------------------

    def _moved(self, moved: Transition) -> None:
        if moved.before is AgentState.ON_CALL:
            self._talk_s += moved.held_s
        if moved.after is AgentState.AVAILABLE and self._sc.mode is PacingMode.PREVIEW:
            self._start_preview(moved.agent_id)

    def _start_preview(self, agent_id: str) -> None:
        """The agent reads the next lead's card; they accept it after their think time."""
        self._after(self._sc.agent_model.preview(self._rng), _Ev.PREVIEW_DONE, self._preview_done, agent_id)

    def _preview_done(self, agent_id: str) -> None:
        self._engine.accept(agent_id)

    # --- dialing --------------------------------------------------------------------------------

    def _pace(self) -> None:
        now = self._clock.now()
        if not self._rules.windows.is_open(now):
            return
        plan = self._engine.plan(now, self._engine.lines(), self._sc.lines)
        for i in range(plan.count):
            self._dial(now, plan.for_agents[i] if plan.for_agents else None)
        self._max_lines = max(self._max_lines, self._engine.lines())

    def _dial(self, now: datetime, for_agent: str | None) -> None:
        lead = self._take_lead(now)
        day = self._rules.windows.local_date(now)
        if lead.day != day:
            lead.day, lead.today = day, 0
        lead.attempts += 1
        lead.today += 1
        self._counts["attempts"] += 1
        self._next_call += 1
        call = _Call(f"c{self._next_call}", lead.lead_id, now, for_agent)
        self._engine.placed(call.call_id, now, for_agent)
        person, outcome, after = self._sc.customers.draw(self._rng)
        self._after(after, _Ev.RING_ENDS, self._ring_ends, (call, person, outcome))

    def _take_lead(self, now: datetime) -> _Lead:
        prioritizer = self._rules.priority
        while self._scheduled and self._scheduled[0][0] <= self._clock.monotonic():
            _, _, cand = heapq.heappop(self._scheduled)
            heapq.heappush(self._due, (prioritizer.key(cand, now), cand))
        if self._due:
            _, cand = heapq.heappop(self._due)
            self._counts["retries"] += 1
            return self._leads[cand.lead_id]
        self._next_lead += 1
        lead = _Lead(f"L{self._next_lead}")
        self._leads[lead.lead_id] = lead
        return lead

    def _retry(self, call: _Call, outcome: Outcome) -> None:
        lead = self._leads[call.lead_id]
        now = self._clock.now()
        decision = self._rules.retry.next_attempt(outcome, now, lead.attempts, lead.today, self._rules.windows)
        if decision.at is None:
            del self._leads[lead.lead_id]
            return
        due = self._clock.monotonic() + (decision.at - now).total_seconds()
        self._seq += 1
        heapq.heappush(
            self._scheduled, (due, self._seq, Candidate(lead.lead_id, decision.at, promised=decision.promised))
        )

    # --- summary --------------------------------------------------------------------------------

    def _result(self, end_s: float) -> SimResult:
        c = self._counts
        agent_s = self._sc.agents * end_s
        return SimResult(
            mode=self._sc.mode.value,
            agents=self._sc.agents,
            lines=self._sc.lines,
            hours=self._sc.hours,
            seed=self._sc.seed,
            attempts=c["attempts"],
            answered=c["answered"],
            connected=c["connected"],
            abandoned=c["abandoned"],
            retries=c["retries"],
            occupancy=self._talk_s / agent_s,
            abandon_rate=c["abandoned"] / c["answered"] if c["answered"] else 0.0,
            connects_per_agent_hour=c["connected"] / (agent_s / 3600.0),
            line_use=self._line_area / (end_s * self._sc.lines),
            max_lines=self._max_lines,
        )


def simulate(
    scenario: Scenario,
    rules: CampaignRules,
    pacing: PacingDefaults,
    abandon_after_s: float,
    pacer: PacerFactory | None = None,
) -> SimResult:
    """Run one scenario and return its summary (``pacer``: see :class:`Simulation`)."""
    return Simulation(scenario, rules, pacing, abandon_after_s, pacer).run()
