"""Errors of the campaign core: one base, a few precise kinds, each message says what and where."""

from __future__ import annotations


class CampaignError(Exception):
    """Base of everything the campaign core refuses."""


class IllegalTransition(CampaignError):
    """An agent event that makes no sense in the agent's current state (e.g. wrap-up while logged out)."""


class UnknownAgent(CampaignError):
    """An event names an agent the roster does not hold."""


class PolicyError(CampaignError):
    """A retry, window or priority rule in the configuration cannot be understood."""
