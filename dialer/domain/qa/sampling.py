"""Which calls QA scores this week: N per agent, picked the same way on every look.

A reviewer cannot listen to every call, and picking by hand favours the easy ones. Each week every
agent gets ``per_agent`` calls scored: the ones already scored that week count, and the rest are
drawn from the agent's unscored recordings of the week in an order fixed by a hash of the week and
the recording (so reloading the page, or a second reviewer, sees the same picks, and nobody can
steer them). Pure: the recordings, the scored ids and the week come in.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class AgentSample:
    """One agent's share of the week: how many are scored, and which calls to score next."""

    agent: str
    calls: int  # the agent's recorded calls this week
    scored: int  # of them, already scored
    to_score: tuple[int, ...]  # recording ids, in the order to take them

    @property
    def done(self) -> bool:
        return not self.to_score


def week_of(day: date) -> tuple[date, date]:
    """Monday and the next Monday of ``day``'s week (the sample's period, dealer-local)."""
    monday = date.fromordinal(day.toordinal() - day.weekday())
    return monday, date.fromordinal(monday.toordinal() + 7)


def draw(
    recordings: Iterable[tuple[int, str | None]], scored: set[int], per_agent: int, week: date
) -> list[AgentSample]:
    """The week's sample, by agent: ``recordings`` are (recording id, agent) pairs of the week."""
    if per_agent < 1:
        raise ValueError(f"per_agent = {per_agent}: at least 1")
    by_agent: dict[str, list[int]] = defaultdict(list)
    for recording_id, agent in recordings:
        if agent:  # a call nobody took (abandoned, voicemail) has no agent to coach
            by_agent[agent].append(recording_id)
    samples = []
    for agent in sorted(by_agent):
        ids = by_agent[agent]
        done = sum(1 for i in ids if i in scored)
        left = sorted((i for i in ids if i not in scored), key=lambda i: _rank(week, i))
        samples.append(AgentSample(agent, len(ids), done, tuple(left[: max(0, per_agent - done)])))
    return samples


def _rank(week: date, recording_id: int) -> bytes:
    return hashlib.sha256(f"{week.isoformat()}:{recording_id}".encode()).digest()
