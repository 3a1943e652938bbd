"""The route table: the one source of truth for paths, handlers, who may call them and the OpenAPI document.

Every route is declared with :meth:`RouteTable.route`, naming the policy :class:`Action` it needs
(or ``PUBLIC`` / ``ANY_USER``). The access middleware reads the same declaration for every request,
the OpenAPI document is generated from it, and the test that walks the router checks each route
against it, so a route cannot exist without a stated rule.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web

from dialer.domain.access.policy import MATRIX, Action, Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Open(StrEnum):
    """Routes that are not tied to a policy action."""

    PUBLIC = "public"  # anyone, logged in or not (login page, language switch, /metrics)
    ANY_USER = "any_user"  # any logged-in user (logout, who am I, the API document)


Access = Action | Open


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter (or a JSON body field) of an API route, for the OpenAPI document."""

    name: str
    description: str
    type: str = "string"
    required: bool = False


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One declared route: method, path, handler, the access it needs and how the API document shows it."""

    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    query: tuple[Param, ...] = ()
    body: str | None = None  # request media type (API routes that take a body)
    response: str = "application/json"
    fields: tuple[Param, ...] = ()  # the JSON body's fields, when it is an object of known fields

    @property
    def name(self) -> str:
        """The aiohttp route name: the handler's name (unique in the table)."""
        return self.handler.__name__

    @property
    def is_api(self) -> bool:
        """Part of the JSON API, hence of the OpenAPI document."""
        return self.path.startswith("/api/")

    @property
    def path_patterns(self) -> tuple[tuple[str, str], ...]:
        """The ``{name}`` / ``{name:regex}`` segments of the path as (name, regex or '')."""
        return tuple(re.findall(r"\{(\w+)(?::([^}]*))?\}", self.path))

    def allowed_roles(self) -> frozenset[Role]:
        """The roles that get past the access check; the policy matrix decides for actions."""
        if isinstance(self.access, Action):
            return frozenset(MATRIX.get(self.access, {}))
        return frozenset(Role)


@dataclass(slots=True)
class RouteTable:
    """Collects route declarations; :meth:`install` adds them to an application's router."""

    _specs: dict[tuple[str, str], RouteSpec] = field(default_factory=dict)

    def route(
        self,
        method: str,
        path: str,
        access: Access,
        summary: str,
        *,
        query: tuple[Param, ...] = (),
        body: str | None = None,
        response: str = "application/json",
        fields: tuple[Param, ...] = (),
    ) -> Callable[[Handler], Handler]:
        """Declare ``handler`` for ``method path`` with the access it needs."""

        def register(handler: Handler) -> Handler:
            key = (method, path)
            if key in self._specs:
                raise ValueError(f"route {method} {path} declared twice")
            self._specs[key] = RouteSpec(method, path, handler, access, summary, query, body, response, fields)
            return handler

        return register

    @classmethod
    def combine(cls, *tables: RouteTable) -> RouteTable:
        """One table from the per-module tables; a path declared twice is an error."""
        combined = cls()
        for table in tables:
            for key, spec in table._specs.items():
                if key in combined._specs:
                    raise ValueError(f"route {key[0]} {key[1]} declared twice")
                combined._specs[key] = spec
        return combined

    def __iter__(self) -> Iterator[RouteSpec]:
        return iter(self._specs.values())

    def install(self, app: web.Application) -> None:
        """Add every route; HEAD is not added implicitly, so every route the router has is declared here."""
        for spec in self:
            app.router.add_route(spec.method, spec.path, spec.handler, name=spec.name)

    def by_handler(self) -> Mapping[Any, RouteSpec]:
        """Handler -> declaration, how the access middleware finds the rule of the matched route."""
        return {spec.handler: spec for spec in self}
