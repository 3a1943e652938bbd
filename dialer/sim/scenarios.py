"""Building the reference scenarios from the configuration; shared by the CLI, the bench and tests."""

from __future__ import annotations

from datetime import date, datetime, time

from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import CampaignRules
from dialer.sim.engine import Scenario
from dialer.sim.model import AgentModel, CustomerModel

# A Monday; the shift starts when the calling window opens on it, in the dealer's time zone.
SHIFT_DAY = date(2026, 1, 5)


def shift_start(rules: CampaignRules) -> datetime:
    """When the reference shift begins: the first calling-window opening on ``SHIFT_DAY`` or after."""
    return rules.windows.next_opening(datetime.combine(SHIFT_DAY, time(0), tzinfo=rules.windows.tz))


def reference(
    rules: CampaignRules,
    mode: PacingMode,
    agents: int,
    lines: int,
    answer_p: float,
    talk_mean_s: float,
    hours: float,
    seed: int,
) -> Scenario:
    """A scenario of the reference model with the knobs the CLI and the bench vary."""
    return Scenario(
        mode=mode,
        agents=agents,
        lines=lines,
        hours=hours,
        seed=seed,
        start=shift_start(rules),
        customers=CustomerModel(answer_p=answer_p),
        agent_model=AgentModel(talk_mean_s=talk_mean_s),
    )
