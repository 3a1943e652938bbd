"""A campaign's life: draft -> running <-> paused -> stopped, or running -> completed.

The status lives in the store; this module only says which commands are legal from which status,
so the CLI, the web face and the runner refuse the same things with the same words.

Pause and stop never cut a live call: they only stop NEW dials. The runner reads the status
before every dial (``Hopper.next_batch`` returns nothing unless the campaign is running), and
calls already placed end on their own and are recorded as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from dialer.domain.campaigns.errors import CampaignError


class CampaignStatus(StrEnum):
    """Where a campaign is in its life; only 'running' dials."""

    DRAFT = "draft"  # created from a file, nothing enrolled yet
    RUNNING = "running"
    PAUSED = "paused"  # keeps its leads and progress; resume continues
    STOPPED = "stopped"  # ended by a person; final
    COMPLETED = "completed"  # no lead left to dial; final

    @property
    def final(self) -> bool:
        """No command brings the campaign back; create a new one instead."""
        return self in (CampaignStatus.STOPPED, CampaignStatus.COMPLETED)


class Command(StrEnum):
    """What a person (or the runner, for 'complete') can ask of a campaign."""

    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    COMPLETE = "complete"


_MOVES: Mapping[Command, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    Command.START: (frozenset({CampaignStatus.DRAFT}), CampaignStatus.RUNNING),
    Command.PAUSE: (frozenset({CampaignStatus.RUNNING}), CampaignStatus.PAUSED),
    Command.RESUME: (frozenset({CampaignStatus.PAUSED}), CampaignStatus.RUNNING),
    Command.STOP: (
        frozenset({CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED}),
        CampaignStatus.STOPPED,
    ),
    Command.COMPLETE: (frozenset({CampaignStatus.RUNNING}), CampaignStatus.COMPLETED),
}


class IllegalCampaignTransition(CampaignError):
    """A lifecycle command that makes no sense in the campaign's status (e.g. resume a running campaign)."""

    def __init__(self, campaign_id: int, status: CampaignStatus, command: Command) -> None:
        allowed = ", ".join(sorted(s.value for s in _MOVES[command][0]))
        super().__init__(f"campaign {campaign_id} is {status.value}: '{command.value}' needs status {allowed}")
        self.campaign_id = campaign_id
        self.status = status
        self.command = command


def apply(campaign_id: int, status: CampaignStatus, command: Command) -> CampaignStatus:
    """The status after ``command``; :class:`IllegalCampaignTransition` when it is not allowed now."""
    sources, target = _MOVES[command]
    if status not in sources:
        raise IllegalCampaignTransition(campaign_id, status, command)
    return target


# The commands a person gives; 'complete' is the runner's.
PERSON_COMMANDS = (Command.START, Command.PAUSE, Command.RESUME, Command.STOP)


def commands_for(status: CampaignStatus) -> tuple[Command, ...]:
    """The commands a person may give a campaign in ``status`` (the buttons a face shows)."""
    return tuple(c for c in PERSON_COMMANDS if status in _MOVES[c][0])
