"""What the lead store hands out and takes besides leads: history events, import runs, transfers,
the manager's queries and their pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialer.domain.leads.merge import ImportPlan
from dialer.domain.leads.model import Lead, LeadSource, LeadState


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """One entry of a lead's history."""

    id: int
    lead_id: int
    kind: str
    at: datetime
    actor: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PreviousImport:
    """An earlier import run of the same file (same SHA-256), and what it did."""

    id: int
    at: datetime
    file_name: str
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int


@dataclass(frozen=True, slots=True)
class ImportRun:
    """What the store did with one file's drafts."""

    plan: ImportPlan
    import_id: int | None  # None: nothing was written (e.g. a re-import of the same file)
    previous: PreviousImport | None


@dataclass(frozen=True, slots=True)
class ImportSource:
    """Where an import's rows came from, for the import log."""

    file_name: str
    file_sha256: str
    source: LeadSource | None
    rows_total: int
    phone_field: str  # how the file names its phone column(s), for rejections
    # What besides the bytes decided the result (dialer.domain.leads.template.import_recipe);
    # None: not a file (an inbound caller), never recognised and skipped.
    recipe: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    """What one transfer did to one lead: the manager's screen and DOSS both need to know."""

    lead: Lead  # the lead after the transfer
    previous_owner: str | None
    event_id: int | None  # the transferred event; None: the lead already had that owner, nothing written

    @property
    def changed(self) -> bool:
        """The owner changed (False: asked again for the owner it has, reported as unchanged)."""
        return self.event_id is not None


@dataclass(frozen=True, slots=True)
class LeadQuery:
    """The manager's filters over all leads; None means "any". ``page`` counts from 1."""

    source: LeadSource | None = None
    state: LeadState | None = None
    owner: str | None = None
    unassigned: bool = False  # only leads nobody owns (``owner`` is then ignored)
    overdue: bool = False  # only leads whose deadline has passed
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class LeadPage:
    """One page of a query, and how many leads match in all (for the pager)."""

    leads: tuple[Lead, ...]
    total: int


@dataclass(frozen=True, slots=True)
class OwnershipCount:
    """How many leads one owner (None: nobody) has in one state, and how many of them are overdue."""

    owner: str | None
    state: LeadState
    leads: int
    overdue: int


@dataclass(frozen=True, slots=True)
class CancelledVisit:
    """A booked visit the customer called off: the lead now, when and by whom, the visit it was, why."""

    lead: Lead
    at: datetime
    actor: str
    visit_at: datetime | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class VisitBoard:
    """The desk's showroom list: invited customers due in the store soon, and the visits called off."""

    upcoming: tuple[Lead, ...]  # invited, the visit in the window, earliest first
    cancelled: tuple[CancelledVisit, ...]  # newest first
