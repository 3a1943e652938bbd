"""Who a name in a lead file means: one identity per person (docs/leads.md, "Owners").

A person's leads, calls, dispositions, KPIs and SMS notices are filed under one string, the agent
identity of their login (``users.agent``: for agents their phone endpoint, by default the login).
Lead files name owners as people write them (负责人 王丽); the sales manager maps such names to users
(``owner_aliases``). An agent's login, identity or alias resolves to the identity; any other name is
unknown, and the import reports it instead of filing leads under a name no login has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dialer.domain.access.policy import Role
from dialer.domain.auth.records import UserRecord

# An alias is a person's name as a file writes it: any script, no control characters, no outer blanks.
_ALIAS = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


@dataclass(frozen=True, slots=True)
class OwnerAlias:
    """A name lead files use for a user (``alias`` -> the login ``user``, filed under ``agent``)."""

    alias: str
    user: str
    agent: str


@dataclass(frozen=True, slots=True)
class OwnerDirectory:
    """Every name an owner may go by, to the identity it is filed under; only enabled agents own leads."""

    names: Mapping[str, str]

    @classmethod
    def build(cls, users: Iterable[UserRecord], aliases: Iterable[OwnerAlias]) -> OwnerDirectory:
        """From the users and the manager's aliases. An agent's identity and login name themselves;
        an alias never shadows a login or identity (those are people's own names)."""
        owners = {u.agent: u.agent for u in users if u.role is Role.AGENT and u.agent and u.disabled_at is None}
        own = dict(owners)
        for user in users:
            if user.agent in owners and user.name not in own:
                own[user.name] = owners[user.agent]
        for alias in aliases:
            if alias.agent in owners and alias.alias not in own:
                own[alias.alias] = alias.agent
        return cls(MappingProxyType(own))

    def resolve(self, name: str | None) -> str | None:
        """The identity ``name`` is filed under, or None if nobody goes by it (or ``name`` is None)."""
        return None if name is None else self.names.get(name.strip())

    @property
    def agents(self) -> frozenset[str]:
        """The identities that may own leads."""
        return frozenset(self.names.values())


def check_alias(alias: str) -> str:
    """The alias as stored (outer blanks removed); a ValueError says why a bad one is refused."""
    text = alias.strip()
    if not _ALIAS.match(text):
        raise ValueError("use 1-64 printable characters")
    return text
