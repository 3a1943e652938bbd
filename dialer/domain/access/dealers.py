"""Dealers as tenants (docs/store.md "Dealers: one database, several dealers").

A dealer group keeps several dealers in one store. Every lead, campaign, call, recording and SMS
belongs to one dealer; a person of a dealer sees that dealer's rows only, a group-wide person
(no dealer of their own) sees every dealer's and may narrow to one. :class:`DealerScope` is that
decision, taken once per request from the person (or for a node's own work, from its dealer), and
handed down to the services and the store, which alone turns it into SQL. A row outside the scope
is answered exactly like a missing one: nobody probes another dealer's ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from dialer.settings import DealerSettings

# A short lowercase name: letters, digits and inner hyphens ("shanghai-pudong").
_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")

MAIN_DEALER_ID = 1
"""The dealer migration 0190 made: every row of a store older than dealers is this one's."""

MAIN_DEALER_CODE = "main"
"""Dealer 1's code as migration 0190 made it (``[dealer] code``'s default)."""


def code_problem(code: str) -> str | None:
    """Why ``code`` is no dealer code, or None."""
    if _CODE.match(code):
        return None
    return "use 1-32 lowercase letters, digits or inner '-' (e.g. shanghai-pudong)"


def settings_problems(dealer: DealerSettings) -> list[str]:
    """What is wrong in ``[dealer]`` (the code; the timezone and region are checked with the schema)."""
    problem = code_problem(dealer.code)
    return [] if problem is None else [f"dealer.code = {dealer.code!r}: {problem}"]


@dataclass(frozen=True, slots=True)
class Dealer:
    """One dealer of the group."""

    id: int
    code: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DealerScope:
    """Whose rows one request sees.

    ``dealer_id``: the one dealer seen, or None for every dealer. ``group``: the person is
    group-wide, so ``dealer_id`` is only the dealer they chose to look at (the page's filter).
    """

    dealer_id: int | None
    group: bool = False

    @classmethod
    def of(cls, dealer_id: int) -> DealerScope:
        """One dealer's person (or node): that dealer only, no choice."""
        return cls(dealer_id)

    @classmethod
    def group_wide(cls, chosen: int | None = None) -> DealerScope:
        """A group-wide person: every dealer, or the one ``chosen``."""
        return cls(chosen, group=True)

    def allows(self, dealer_id: int) -> bool:
        """May a row of ``dealer_id`` be seen?"""
        return self.dealer_id is None or self.dealer_id == dealer_id

    @property
    def mixed(self) -> bool:
        """Rows of several dealers may show together (a list then names each row's dealer)."""
        return self.dealer_id is None


EVERY_DEALER = DealerScope.group_wide()
"""No narrowing: the command line (run by the group's IT on a node) and the dialer's own work."""


def scope_of_user(user_dealer_id: int | None, chosen: int | None) -> DealerScope:
    """The scope of a person of ``user_dealer_id`` (None: group-wide), who asked for ``chosen``.

    A dealer's person's choice is ignored: they see their own dealer, whatever the URL says.
    """
    if user_dealer_id is None:
        return DealerScope.group_wide(chosen)
    return DealerScope.of(user_dealer_id)
