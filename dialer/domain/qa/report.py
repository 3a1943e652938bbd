"""The month's QA results per agent: how many calls were reviewed, the average, and where points were lost.

Pure: takes the scorings (the latest one per recording) and returns the report, so the
web console and the CLI show the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.domain.qa.scoring import ItemScore

_DECIMALS = 2


@dataclass(frozen=True, slots=True)
class ScoredCall:
    """One stored scoring, as the report needs it."""

    score_id: int
    recording_id: int
    agent: str | None
    scorer: str
    score: float
    scored_at: datetime
    form_version: str
    items: tuple[ItemScore, ...]


@dataclass(frozen=True, slots=True)
class ItemResult:
    """How one item went across an agent's reviewed calls: the share of its points achieved."""

    item_id: str
    calls: int
    achieved: float  # 0..1: mean of value/max over the calls it applied to


@dataclass(frozen=True, slots=True)
class AgentQa:
    """One agent's month: reviewed calls, average / lowest / highest score, and per-item results."""

    agent: str | None
    calls: int
    average: float
    lowest: float
    highest: float
    items: tuple[ItemResult, ...]


@dataclass(frozen=True, slots=True)
class QaReport:
    """The month's report; ``form_versions`` lists every form version the scorings used."""

    month: str
    agent: str | None
    agents: tuple[AgentQa, ...]
    form_versions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """For ``--json`` and the web console."""
        return {
            "month": self.month,
            "agent": self.agent,
            "form_versions": list(self.form_versions),
            "agents": [
                {
                    "agent": a.agent,
                    "calls": a.calls,
                    "average": a.average,
                    "lowest": a.lowest,
                    "highest": a.highest,
                    "items": [{"item_id": i.item_id, "calls": i.calls, "achieved": i.achieved} for i in a.items],
                }
                for a in self.agents
            ],
        }


def latest_per_recording(scorings: Iterable[ScoredCall]) -> list[ScoredCall]:
    """A recording scored twice (calibration, appeal) counts once: its latest scoring stands."""
    latest: dict[int, ScoredCall] = {}
    for s in scorings:
        if s.recording_id not in latest or s.score_id > latest[s.recording_id].score_id:
            latest[s.recording_id] = s
    return sorted(latest.values(), key=lambda s: s.score_id)


def build_report(month: str, scorings: Iterable[ScoredCall], agent: str | None = None) -> QaReport:
    """Group the latest scorings by agent (agents in name order; calls without an agent last)."""
    by_agent: dict[str | None, list[ScoredCall]] = defaultdict(list)
    kept = latest_per_recording(scorings)
    for s in kept:
        by_agent[s.agent].append(s)
    rows = tuple(
        _agent_row(name, calls) for name, calls in sorted(by_agent.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    )
    versions = tuple(sorted({s.form_version for s in kept}))
    return QaReport(month=month, agent=agent, agents=rows, form_versions=versions)


def _agent_row(agent: str | None, calls: list[ScoredCall]) -> AgentQa:
    scores = [c.score for c in calls]
    per_item: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        for item in call.items:
            per_item[item.item_id].append(item.fraction)
    items = tuple(
        ItemResult(item_id, len(fractions), round(sum(fractions) / len(fractions), _DECIMALS + 2))
        for item_id, fractions in sorted(per_item.items())
    )
    return AgentQa(
        agent=agent,
        calls=len(calls),
        average=round(sum(scores) / len(scores), _DECIMALS),
        lowest=min(scores),
        highest=max(scores),
        items=items,
    )
