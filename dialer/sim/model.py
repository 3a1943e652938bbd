"""The stochastic world the simulator dials into: customers who answer or not, agents who talk.

Defaults are the issue's reference grid: a person answers with probability 0.3 after a ring of
U(4, 20) s; every other attempt fails after U(3, 30) s (busy, no answer, ...); talks are
exponential with mean 90 s; wrap-up takes 30 s; preview agents read a lead for U(5, 15) s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dialer.domain.calls.outcome import Outcome
from dialer.sim.errors import SimError

# Busy / no answer / ... share of the attempts nobody answers: a plausible retail-lead mix.
DEFAULT_FAILURES: tuple[tuple[Outcome, float], ...] = (
    (Outcome.NO_ANSWER, 0.5),
    (Outcome.BUSY, 0.25),
    (Outcome.REJECTED, 0.1),
    (Outcome.VACANT, 0.1),
    (Outcome.CONGESTION, 0.05),
)


@dataclass(frozen=True, slots=True)
class CustomerModel:
    """How dialed numbers behave."""

    answer_p: float = 0.3
    answer_after_s: tuple[float, float] = (4.0, 20.0)
    fail_after_s: tuple[float, float] = (3.0, 30.0)
    failures: tuple[tuple[Outcome, float], ...] = DEFAULT_FAILURES

    def __post_init__(self) -> None:
        if not 0 <= self.answer_p <= 1:
            raise SimError(f"answer_p = {self.answer_p}: must be between 0 and 1")
        for name in ("answer_after_s", "fail_after_s"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise SimError(f"{name} = {(low, high)}: need 0 <= low <= high")
        if not self.failures or any(w < 0 for _, w in self.failures) or any(o.reached_person for o, _ in self.failures):
            raise SimError("failures: need outcomes where nobody answered, with non-negative weights")

    def draw(self, rng: random.Random) -> tuple[bool, Outcome, float]:
        """(a person answers, the outcome if not, seconds until answer or failure)."""
        if rng.random() < self.answer_p:
            return True, Outcome.ANSWERED, rng.uniform(*self.answer_after_s)
        outcomes, weights = zip(*self.failures, strict=True)
        return False, rng.choices(outcomes, weights)[0], rng.uniform(*self.fail_after_s)


@dataclass(frozen=True, slots=True)
class AgentModel:
    """How agents spend their time once a call is theirs."""

    talk_mean_s: float = 90.0
    wrap_up_s: float = 30.0
    preview_s: tuple[float, float] = (5.0, 15.0)

    def __post_init__(self) -> None:
        if self.talk_mean_s <= 0 or self.wrap_up_s < 0:
            raise SimError(
                f"talk_mean_s = {self.talk_mean_s}, wrap_up_s = {self.wrap_up_s}: talk must be positive, wrap-up not negative"
            )
        low, high = self.preview_s
        if not 0 <= low <= high:
            raise SimError(f"preview_s = {(low, high)}: need 0 <= low <= high")

    def talk(self, rng: random.Random) -> float:
        """One talk duration (exponential)."""
        return rng.expovariate(1.0 / self.talk_mean_s)

    def preview(self, rng: random.Random) -> float:
        """How long an agent reads a lead before accepting it."""
        return rng.uniform(*self.preview_s)
