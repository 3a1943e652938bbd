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
from collections.abc import Sequence
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


# -- a person's name in a group: ``code/name`` --------------------------------------------------------

_QUALIFIER = "/"  # never in a dealer code nor in a login or agent name (dialer/auth/service.py checks them)


def qualified(code: str, name: str) -> str:
    """``name`` of dealer ``code`` as the group writes it (``pudong/8001``): names are a dealer's own."""
    return f"{code}{_QUALIFIER}{name}"


def split_qualified(name: str) -> tuple[str | None, str]:
    """``code/name`` -> (code, name); a plain ``name`` -> (None, name)."""
    code, slash, plain = name.partition(_QUALIFIER)
    return (code, plain) if slash else (None, name)


class AmbiguousName(ValueError):
    """A person's name that does not say whose it is (``unseen`` None: plain, and several dealers could be
    meant; ``example`` shows it qualified), or names a dealer ``unseen`` out of the viewer's reach. The
    message, in English, tells the viewer what to write; the CLI translates from the fields."""

    def __init__(self, name: str, *, unseen: str | None = None, example: str = "") -> None:
        self.name, self.unseen, self.example = name, unseen, example
        if unseen is None:
            why = f"{name!r} may be an agent of any dealer of the group: write it as code/{name} (e.g. {example})"
            super().__init__(f"{why} or choose one dealer")
        else:
            super().__init__(f"{name!r}: {unseen[:40]!r} is no dealer you see here")


def scope_of_name(name: str, dealers: DealerScope, group: Sequence[Dealer]) -> tuple[DealerScope, str]:
    """The scope and plain name a filter by a person's ``name`` (an agent, ``8001`` or ``pudong/8001``)
    reads, for a viewer of ``dealers`` in a group of the dealers ``group``.

    Every showroom has its 8001, so a plain name is one dealer's only where the viewer sees one dealer (a
    dealer's person, a chosen ``?dealer=``, or a group of one); a group-wide viewer otherwise qualifies it,
    which narrows the scope to that dealer. :class:`AmbiguousName` for a plain name of several dealers, an
    unknown code, or a code the viewer's scope does not reach.
    """
    code, plain = split_qualified(name)
    if code is None:
        if dealers.mixed and len(group) > 1:
            raise AmbiguousName(name, example=qualified(group[0].code, name))
        return dealers, name
    dealer = next((d for d in group if d.code == code), None)
    if dealer is None or not dealers.allows(dealer.id):
        raise AmbiguousName(name, unseen=code)
    return (DealerScope.group_wide(dealer.id) if dealers.group else dealers), plain
