"""A campaign as the dealer writes it: one TOML file, validated once, errors naming file, field and value.

A campaign says WHO is called (kind + lead filter), HOW (dialing mode, agents, line cap, caller ID),
WHEN (calling windows, holidays) and HOW OFTEN (retry rules, attempt caps). Every rule the file
leaves out comes from ``settings.campaigns``; the windows and retries are parsed by
:mod:`dialer.domain.campaigns.policy` (THE rules), so a campaign can only narrow or tune them, never
invent another rule engine.

Pure: no I/O beyond reading the file in :func:`load_definition`. The store keeps the file's table
as JSON and re-parses it with :func:`parse_definition`, so a stored campaign is validated by the
same code as a new one.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from dialer.domain.campaigns.errors import CampaignError, PolicyError
from dialer.domain.campaigns.pacing import PacingMode
from dialer.domain.campaigns.policy import CallingWindows, CampaignRules, Prioritizer, RetryPolicy
from dialer.domain.leads.model import IntentLevel, LeadSource, LeadState
from dialer.phone import InvalidPhone, normalize
from dialer.settings import RetryDefaults, Settings, WindowDefaults

E = TypeVar("E", bound=StrEnum)
D = TypeVar("D", WindowDefaults, RetryDefaults)


class DefinitionError(CampaignError):
    """A campaign definition is unusable; ``where`` is the file (or stored campaign), ``field`` the key."""

    def __init__(self, where: str, field_name: str, value: object, reason: str) -> None:
        super().__init__(f"{where}: {field_name} = {value!r}: {reason}")
        self.where = where
        self.field = field_name
        self.value = value
        self.reason = reason


class CampaignKind(StrEnum):
    """The four kinds of outbound work the handbook describes; the kind picks the default lead sources."""

    HQ = "hq"  # carmaker HQ leads, first call within 48 h of issue
    WEB = "web"  # portal leads, cleaned before calling
    LOW_INTENT_DEFEATED = "low_intent_defeated"  # the sales manager's daily hand-over, within 2 days
    REPURCHASE = "repurchase"  # base customers (and after-sales referrals), after the SMS round

    @property
    def default_sources(self) -> tuple[LeadSource, ...]:
        """Sources a campaign of this kind works when its filter names none."""
        return _KIND_SOURCES[self]


_KIND_SOURCES: Mapping[CampaignKind, tuple[LeadSource, ...]] = {
    CampaignKind.HQ: (LeadSource.HQ,),
    CampaignKind.WEB: (LeadSource.WEB,),
    CampaignKind.LOW_INTENT_DEFEATED: (LeadSource.LOW_INTENT, LeadSource.DEFEATED),
    CampaignKind.REPURCHASE: (LeadSource.BASE_CUSTOMER, LeadSource.REFERRAL),
}

# Closed leads (deal, defeated, invalid) are never called by a campaign; a defeated lead comes
# back only through re-activation, which makes it 'reactivated'.
OPEN_STATES: tuple[LeadState, ...] = tuple(s for s in LeadState if s.is_open)


@dataclass(frozen=True, slots=True)
class LeadFilter:
    """Which stored leads a campaign enrols. Empty tuples and None mean "no restriction".

    ``car_age_*_years`` apply to base customers' purchase date; ``not_contacted_days`` keeps out
    leads someone reached within that many days (so a campaign does not call a customer the
    showroom spoke to yesterday).
    """

    sources: tuple[LeadSource, ...]
    states: tuple[LeadState, ...] = OPEN_STATES
    intents: tuple[IntentLevel, ...] = ()
    models: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    car_age_min_years: float | None = None
    car_age_max_years: float | None = None
    not_contacted_days: float | None = None


@dataclass(frozen=True, slots=True)
class CampaignDefinition:
    """A validated campaign. ``source`` is the parsed table, kept so the store can re-validate it."""

    name: str
    kind: CampaignKind
    mode: PacingMode
    agents: tuple[str, ...]
    lines: int
    caller_id: str
    lead_filter: LeadFilter
    windows: WindowDefaults
    retry: RetryDefaults
    deadline_urgent_s: float
    wrap_up_timeout_s: float
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def max_attempts(self) -> int:
        """Attempts a lead gets in this campaign, all days together."""
        return self.retry.max_attempts

    @property
    def max_attempts_per_day(self) -> int:
        """Attempts a lead gets in this campaign on one local day."""
        return self.retry.max_attempts_per_day

    def rules(self, timezone: str) -> CampaignRules:
        """THE policy objects (windows, retries, priority) with this campaign's overrides applied."""
        return CampaignRules(
            CallingWindows.from_settings(self.windows, timezone),
            RetryPolicy.from_settings(self.retry),
            Prioritizer(self.deadline_urgent_s),
            self.wrap_up_timeout_s,
        )


_TOP_KEYS = frozenset(
    {
        "name",
        "kind",
        "mode",
        "agents",
        "lines",
        "caller_id",
        "filter",
        "windows",
        "retry",
        "deadline_urgent_s",
        "wrap_up_timeout_s",
    }
)
_FILTER_KEYS = frozenset(
    {"sources", "states", "intents", "models", "owners", "car_age_min_years", "car_age_max_years", "not_contacted_days"}
)


def load_definition(path: Path, settings: Settings) -> CampaignDefinition:
    """Read and validate a campaign file; errors name the file, the field and the value."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionError(where, "file", str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(where, "file", str(path), f"not valid TOML: {exc}") from None
    return parse_definition(data, where, settings)


def parse_definition(data: Mapping[str, Any], where: str, settings: Settings) -> CampaignDefinition:
    """Validate one campaign table against ``settings`` (line cap, default rules, time zone)."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise DefinitionError(
            where, unknown[0], data[unknown[0]], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})"
        )
    name = _text(data, "name", where)
    kind = _enum(CampaignKind, data.get("kind"), "kind", where)
    mode = _enum(PacingMode, data.get("mode", settings.campaigns.pacing.mode), "mode", where)
    agents = _texts(data.get("agents", []), "agents", where)
    if len(set(agents)) != len(agents):
        raise DefinitionError(where, "agents", list(agents), "an agent is listed twice")
    lines = _number(data.get("lines", settings.pbx.outbound_lines), "lines", where, int)
    if not 1 <= lines <= settings.pbx.outbound_lines:
        raise DefinitionError(
            where,
            "lines",
            lines,
            f"must be between 1 and the PBX's {settings.pbx.outbound_lines} outbound lines (pbx.outbound_lines)",
        )
    caller_id = _caller_id(data.get("caller_id", settings.pbx.caller_id), where, settings.dealer.region)
    lead_filter = _filter(data.get("filter", {}), kind, where)
    windows = _override(settings.campaigns.windows, data.get("windows", {}), "windows", where)
    retry = _override(settings.campaigns.retry, data.get("retry", {}), "retry", where)
    for cap in ("max_attempts", "max_attempts_per_day"):
        if getattr(retry, cap) < 1:
            raise DefinitionError(where, f"retry.{cap}", getattr(retry, cap), "must be at least 1")
    urgent = _number(
        data.get("deadline_urgent_s", settings.campaigns.deadline_urgent_s), "deadline_urgent_s", where, float
    )
    if urgent < 0:
        raise DefinitionError(where, "deadline_urgent_s", urgent, "must not be negative")
    wrap_up = _number(
        data.get("wrap_up_timeout_s", settings.campaigns.wrap_up_timeout_s), "wrap_up_timeout_s", where, float
    )
    if wrap_up <= 0:
        raise DefinitionError(where, "wrap_up_timeout_s", wrap_up, "must be positive")
    definition = CampaignDefinition(
        name, kind, mode, agents, lines, caller_id, lead_filter, windows, retry, urgent, wrap_up, dict(data)
    )
    try:
        definition.rules(settings.dealer.timezone)
    except PolicyError as exc:
        # The policy parser names the key as campaigns.<section>.<key>; here the section is the file's.
        raise DefinitionError(where, *_policy_field(definition, str(exc))) from None
    return definition


def definition_problems(data: Mapping[str, Any], where: str, settings: Settings) -> dict[str, str]:
    """Every field :func:`parse_definition` refuses in ``data``, field -> reason (empty: the table is valid).

    The parser stops at the first problem; a form wants them all at once. So the refused key is
    taken out (its default applies; a required one gets a valid stand-in) and the table is parsed
    again, until it passes or a key is refused twice: the same code decides, only asked more than once.
    """
    table: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    problems: dict[str, str] = {}
    while True:
        try:
            parse_definition(table, where, settings)
        except DefinitionError as exc:
            if exc.field in problems:
                return problems
            problems[exc.field] = exc.reason
            section, _, key = exc.field.partition(".")
            holder = table.get(section) if key else table
            if exc.field in _STAND_INS:
                table[exc.field] = _STAND_INS[exc.field]
            elif isinstance(holder, dict) and (key or section) in holder:
                del holder[key or section]
            else:
                return problems
        else:
            return problems


# Valid values for the required keys, so that one refused does not hide the problems after it.
_STAND_INS: Mapping[str, str] = {"name": "-", "kind": CampaignKind.HQ.value}


def _policy_field(d: CampaignDefinition, message: str) -> tuple[str, object, str]:
    """Turn a PolicyError ("campaigns.retry.busy = '1x': expected ...") into this file's field, value, reason."""
    head, _, reason = message.partition(": ")
    key = head.partition(" = ")[0].removeprefix("campaigns.")
    section, _, name = key.partition(".")
    value = getattr(getattr(d, section, None), name, None) if section in ("windows", "retry") else None
    return key, value, reason or message


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(where, key, value, "expected non-empty text")
    return value.strip()


def _texts(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DefinitionError(where, key, value, "expected a list of non-empty texts")
    return tuple(v.strip() for v in value)


def _enum(cls: type[E], value: Any, key: str, where: str) -> E:
    try:
        return cls(value)
    except ValueError:
        raise DefinitionError(where, key, value, f"must be one of {', '.join(m.value for m in cls)}") from None


def _enums(cls: type[E], value: Any, key: str, where: str) -> tuple[E, ...]:
    return tuple(_enum(cls, v, key, where) for v in _texts(value, key, where))


def _number(value: Any, key: str, where: str, tp: type[int | float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DefinitionError(where, key, value, "expected a number")
    if tp is int and value != int(value):
        raise DefinitionError(where, key, value, "expected a whole number")
    return tp(value)


def _caller_id(value: Any, where: str, region: str) -> str:
    if value == "":
        return ""
    if not isinstance(value, str):
        raise DefinitionError(where, "caller_id", value, "expected a phone number as text")
    try:
        return normalize(value, region).e164
    except InvalidPhone as exc:
        raise DefinitionError(where, "caller_id", value, exc.reason) from None


def _filter(value: Any, kind: CampaignKind, where: str) -> LeadFilter:
    if not isinstance(value, Mapping):
        raise DefinitionError(where, "filter", value, "expected a table")
    unknown = sorted(set(value) - _FILTER_KEYS)
    if unknown:
        raise DefinitionError(
            where, f"filter.{unknown[0]}", value[unknown[0]], f"unknown key (known: {', '.join(sorted(_FILTER_KEYS))})"
        )
    sources = (
        _enums(LeadSource, value["sources"], "filter.sources", where) if "sources" in value else kind.default_sources
    )
    if not sources:
        raise DefinitionError(where, "filter.sources", [], "name at least one lead source")
    states = _enums(LeadState, value["states"], "filter.states", where) if "states" in value else OPEN_STATES
    closed = [s.value for s in states if not s.is_open]
    if closed:
        raise DefinitionError(where, "filter.states", closed, "closed leads (deal, defeated, invalid) are never called")
    numbers: dict[str, float | None] = {}
    for key in ("car_age_min_years", "car_age_max_years", "not_contacted_days"):
        raw = value.get(key)
        number = None if raw is None else float(_number(raw, f"filter.{key}", where, float))
        if number is not None and number < 0:
            raise DefinitionError(where, f"filter.{key}", raw, "must not be negative")
        numbers[key] = number
    low, high = numbers["car_age_min_years"], numbers["car_age_max_years"]
    if low is not None and high is not None and low > high:
        raise DefinitionError(where, "filter.car_age_max_years", high, f"is below car_age_min_years ({low})")
    return LeadFilter(
        sources=sources,
        states=states,
        intents=_enums(IntentLevel, value.get("intents", []), "filter.intents", where),
        models=_texts(value.get("models", []), "filter.models", where),
        owners=_texts(value.get("owners", []), "filter.owners", where),
        car_age_min_years=low,
        car_age_max_years=high,
        not_contacted_days=numbers["not_contacted_days"],
    )


def _override(base: D, value: Any, section: str, where: str) -> D:
    """The settings section with the campaign's keys replaced; the policy parser then checks the values."""
    if not isinstance(value, Mapping):
        raise DefinitionError(where, section, value, "expected a table")
    fields = {f.name: f for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in fields:
            raise DefinitionError(where, f"{section}.{key}", raw, f"unknown key (known: {', '.join(fields)})")
        current = getattr(base, key)
        if isinstance(current, tuple):
            changes[key] = _texts(raw, f"{section}.{key}", where)
        elif isinstance(current, str):
            if not isinstance(raw, str):
                raise DefinitionError(where, f"{section}.{key}", raw, "expected text")
            changes[key] = raw
        else:
            changes[key] = _number(raw, f"{section}.{key}", where, type(current))
    return dataclasses.replace(base, **changes)
