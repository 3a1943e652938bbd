"""The campaign runners of this process, by campaign id: how a face reaches a running campaign.

Preview mode needs a person's click (Accept / Skip on the web desk) to reach the runner that
holds the offer, and the desk's disposition form must reach the runner whose wrap-up it ends. The composition root builds one :class:`RunnerRegistry`, hands it to the web console,
and registers each runner for as long as it runs (:meth:`RunnerRegistry.serving`); the console only
looks runners up. A runner in another process is not reachable this way: preview campaigns run
in the console's process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from dialer.campaigns.runner import CampaignRunner, PreviewOffer, WrapUp
from dialer.domain.campaigns.agents import AgentSession
from dialer.domain.campaigns.errors import CampaignError


class RunnerRegistry:
    """A plain registry: campaign id -> the runner dialling it in this process."""

    def __init__(self) -> None:
        self._by_campaign: dict[int, CampaignRunner] = {}

    def add(self, runner: CampaignRunner) -> None:
        """Register ``runner``; a second runner for the same campaign is an error (it would dial twice)."""
        if runner.campaign_id in self._by_campaign:
            raise CampaignError(f"campaign {runner.campaign_id} already has a runner in this process")
        self._by_campaign[runner.campaign_id] = runner

    def remove(self, campaign_id: int) -> None:
        """Forget the runner of ``campaign_id`` (it finished); forgetting twice is harmless."""
        self._by_campaign.pop(campaign_id, None)

    @contextlib.contextmanager
    def serving(self, runner: CampaignRunner) -> Iterator[CampaignRunner]:
        """Registered for the ``with`` block: ``with runners.serving(r): await r.run()``."""
        self.add(runner)
        try:
            yield runner
        finally:
            self.remove(runner.campaign_id)

    def get(self, campaign_id: int) -> CampaignRunner | None:
        """The runner of ``campaign_id``, or None when it is not running here."""
        return self._by_campaign.get(campaign_id)

    def offers(self) -> list[PreviewOffer]:
        """Every preview offer not dialled yet, across the campaigns of this process."""
        return [o for runner in self._by_campaign.values() for o in runner.offers()]

    def offers_for(self, agent: str) -> list[PreviewOffer]:
        """The offers waiting on ``agent``'s desk (an agent may work several campaigns at once)."""
        return [o for o in self.offers() if o.agent == agent]

    def runners(self) -> list[CampaignRunner]:
        """Every runner of this process (the wallboard reads their rosters)."""
        return list(self._by_campaign.values())

    def wrap_up_of(self, agent: str) -> tuple[CampaignRunner, WrapUp] | None:
        """The runner waiting for ``agent``'s disposition and the wrap-up it waits for, if any.

        An agent talks to one customer at a time, so at most one runner holds a wrap-up for them."""
        for runner in self._by_campaign.values():
            wrap = runner.wrap_up_of(agent)
            if wrap is not None:
                return runner, wrap
        return None

    def leads_in_hand(self, agent: str) -> set[int]:
        """The leads ``agent`` is on a call with or owes a disposition for, across the campaigns here."""
        return {lead for runner in self._by_campaign.values() if (lead := runner.lead_in_hand(agent)) is not None}

    def sessions_of(self, agent: str) -> list[AgentSession]:
        """``agent``'s session in every runner whose roster lists them."""
        return [s for runner in self._by_campaign.values() for s in runner.roster if s.agent_id == agent]
