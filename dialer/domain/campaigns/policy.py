"""When a lead may be called again, when anyone may be called at all, and who goes first.

* :class:`CallingWindows`: the dealer's calling hours per weekday in local time, holidays and
  make-up workdays; no call starts outside them, nor so close to closing that it would run past.
* :class:`RetryPolicy`: per outcome, how long until the next attempt (a delay, "next day" or never),
  capped per lead and per day; every retry time is pushed into the next window.
* :class:`Prioritizer`: orders due leads, deadlines first (an HQ lead near its 48 h limit beats a
  routine base-customer call), then promised calls (callbacks, abandoned customers), then the rest.

Rules come from ``dialer.settings.CampaignDefaults``; parsing them here is also how settings
validates them at start-up, so the checked text and the used rule cannot drift apart.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.errors import PolicyError
from dialer.domain.dayspans import SpanError, parse_span
from dialer.settings import CampaignDefaults, RetryDefaults, Settings, WindowDefaults

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead a window is searched before the configuration is declared to have none.
_SEARCH_DAYS = 400


def parse_duration(text: str, where: str) -> float:
    """Seconds in "1d", "2h", "10m", "90s" or combinations like "1h30m"."""
    m = _DURATION.match(text.strip().lower())
    if not text.strip() or m is None or not any(m.groups()):
        raise PolicyError(f"{where} = {text!r}: expected a duration like 90s, 10m, 2h or 1h30m")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + s)


class RetryKind(StrEnum):
    """The shapes a retry rule can take."""

    DELAY = "delay"
    NEXT_DAY = "next_day"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class RetryRule:
    """What to do after one outcome."""

    kind: RetryKind
    delay_s: float = 0.0

    @classmethod
    def parse(cls, text: str, where: str) -> RetryRule:
        """Read "never", "next_day" or a duration."""
        word = text.strip().lower()
        if word == RetryKind.NEVER:
            return cls(RetryKind.NEVER)
        if word == RetryKind.NEXT_DAY:
            return cls(RetryKind.NEXT_DAY)
        return cls(RetryKind.DELAY, parse_duration(text, where))


class CallingWindows:
    """The spans of local time in which calls may start.

    A call may start at ``t`` when ``t`` lies in a span and at least ``last_call_margin_s`` before
    its end; the margin keeps calls from running past closing time.
    """

    def __init__(
        self,
        week: Mapping[int, tuple[tuple[time, time], ...]],
        tz: ZoneInfo,
        holidays: frozenset[date] = frozenset(),
        workdays: frozenset[date] = frozenset(),
        last_call_margin_s: float = 0.0,
    ) -> None:
        self._week = {day: tuple(week.get(day, ())) for day in range(7)}
        self._tz = tz
        self._holidays = holidays
        self._workdays = workdays
        self._margin = timedelta(seconds=last_call_margin_s)

    @classmethod
    def from_settings(cls, cfg: WindowDefaults, timezone: str) -> CallingWindows:
        """Parse the ``[campaigns.windows]`` section; errors name the key and the value."""
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"dealer.timezone = {timezone!r}: not a known time zone") from None
        week = {i: _parse_spans(getattr(cfg, name), f"campaigns.windows.{name}") for i, name in enumerate(_WEEKDAYS)}
        if cfg.last_call_margin_s < 0:
            raise PolicyError(f"campaigns.windows.last_call_margin_s = {cfg.last_call_margin_s}: must not be negative")
        return cls(
            week,
            tz,
            frozenset(_parse_dates(cfg.holidays, "campaigns.windows.holidays")),
            frozenset(_parse_dates(cfg.workdays, "campaigns.windows.workdays")),
            cfg.last_call_margin_s,
        )

    @property
    def tz(self) -> ZoneInfo:
        """The dealer's time zone, in which days and hours are meant."""
        return self._tz

    def local_date(self, at: datetime) -> date:
        """The dealer's calendar day at instant ``at``."""
        return at.astimezone(self._tz).date()

    def starts_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """(first, last) instants a call may start, for each span of local ``day``."""
        if day in self._holidays:
            return []
        spans = self._week[0 if day in self._workdays else day.weekday()]
        result = []
        for begin, end in spans:
            first = datetime.combine(day, begin, tzinfo=self._tz)
            last = datetime.combine(day, end, tzinfo=self._tz) - self._margin
            if last >= first:
                result.append((first, last))
        return result

    def is_open(self, at: datetime) -> bool:
        """May a call start at ``at``?"""
        return any(first <= at <= last for first, last in self.starts_on(self.local_date(at)))

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself when a call may start then, else the next moment one may."""
        day = self.local_date(at)
        for offset in range(_SEARCH_DAYS):
            for first, last in self.starts_on(day + timedelta(days=offset)):
                if at <= last:
                    return max(first, at).astimezone(at.tzinfo)
        raise PolicyError(f"no calling window within {_SEARCH_DAYS} days of {at.isoformat()}: check campaigns.windows")

    def next_day_opening(self, at: datetime) -> datetime:
        """The first moment a call may start on a local day after the day of ``at``."""
        tomorrow = self.local_date(at) + timedelta(days=1)
        return self.next_opening(datetime.combine(tomorrow, time(0), tzinfo=self._tz).astimezone(at.tzinfo))


def _parse_spans(text: str, where: str) -> tuple[tuple[time, time], ...]:
    spans = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            begin, end = parse_span(part)
        except SpanError as exc:
            raise PolicyError(f"{where} = {text!r}: {exc}") from None
        spans.append((begin, end))
    spans.sort()
    for (_, end), (begin, _) in itertools.pairwise(spans):
        if begin < end:
            raise PolicyError(f"{where} = {text!r}: spans overlap")
    return tuple(spans)


def _parse_dates(values: Iterable[str], where: str) -> list[date]:
    days = []
    for value in values:
        try:
            days.append(date.fromisoformat(value))
        except ValueError:
            raise PolicyError(f"{where}: {value!r} is not a date like 2026-10-01") from None
    return days


class RetryReason(StrEnum):
    """Why a retry decision came out as it did; stored with the lead for the supervisor."""

    SCHEDULED = "scheduled"
    NEXT_DAY = "next_day"  # the rule says tomorrow
    DAY_LIMIT = "day_limit"  # today's attempts are used up: tomorrow
    NEVER = "never"  # the outcome is final (vacant number, answered: the agent decides)
    EXHAUSTED = "exhausted"  # the lead's attempts are used up


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """When to try the lead again (None: not automatically), and whether it jumps the queue."""

    at: datetime | None
    reason: RetryReason
    promised: bool = False


class RetryPolicy:
    """Per-outcome retry rules with per-lead and per-day attempt caps."""

    def __init__(self, rules: Mapping[Outcome, RetryRule], max_attempts: int, max_attempts_per_day: int) -> None:
        missing = [o.value for o in Outcome if o not in rules]
        if missing:
            raise PolicyError(f"campaigns.retry: no rule for {', '.join(missing)}")
        if max_attempts < 1 or max_attempts_per_day < 1:
            raise PolicyError(
                f"campaigns.retry: max_attempts = {max_attempts}, max_attempts_per_day = {max_attempts_per_day}: both must be at least 1"
            )
        self._rules = dict(rules)
        self.max_attempts = max_attempts
        self.max_attempts_per_day = max_attempts_per_day

    @classmethod
    def from_settings(cls, cfg: RetryDefaults) -> RetryPolicy:
        """Parse the ``[campaigns.retry]`` section; errors name the key and the value."""
        rules = {o: RetryRule.parse(getattr(cfg, o.value), f"campaigns.retry.{o.value}") for o in Outcome}
        return cls(rules, cfg.max_attempts, cfg.max_attempts_per_day)

    def rule(self, outcome: Outcome) -> RetryRule:
        """The configured rule for ``outcome``."""
        return self._rules[outcome]

    def next_attempt(
        self, outcome: Outcome, ended_at: datetime, attempts: int, attempts_today: int, windows: CallingWindows
    ) -> RetryDecision:
        """Decide the next attempt after one ending ``outcome`` at ``ended_at``.

        ``attempts`` counts the lead's attempts so far including this one; ``attempts_today`` those on
        the dealer's local day of ``ended_at``.
        """
        rule = self._rules[outcome]
        if rule.kind is RetryKind.NEVER:
            return RetryDecision(None, RetryReason.NEVER)
        if attempts >= self.max_attempts:
            return RetryDecision(None, RetryReason.EXHAUSTED)
        promised = outcome is Outcome.ABANDONED
        if rule.kind is RetryKind.NEXT_DAY:
            return RetryDecision(windows.next_day_opening(ended_at), RetryReason.NEXT_DAY, promised)
        if attempts_today >= self.max_attempts_per_day:
            return RetryDecision(windows.next_day_opening(ended_at), RetryReason.DAY_LIMIT, promised)
        return RetryDecision(
            windows.next_opening(ended_at + timedelta(seconds=rule.delay_s)), RetryReason.SCHEDULED, promised
        )


class PriorityTier(IntEnum):
    """Coarse order of due leads; lower goes first."""

    URGENT_DEADLINE = 0  # a follow-up deadline (HQ 48 h, hand-over 2 days) is near or missed
    PROMISED = 1  # a callback the customer agreed to, or a customer we abandoned
    DEADLINE = 2  # has a deadline, not near yet
    ROUTINE = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    """A lead as ranking sees it; the hopper fills it from the store."""

    lead_id: str
    due_at: datetime
    deadline: datetime | None = None
    promised: bool = False


class Prioritizer:
    """Orders due leads: deadlines that are close first (soonest first), then promises, then the rest."""

    def __init__(self, deadline_urgent_s: float) -> None:
        self._urgent = timedelta(seconds=deadline_urgent_s)

    def tier(self, c: Candidate, now: datetime) -> PriorityTier:
        """Which tier ``c`` is in at ``now``."""
        if c.deadline is not None and c.deadline - now <= self._urgent:
            return PriorityTier.URGENT_DEADLINE
        if c.promised:
            return PriorityTier.PROMISED
        return PriorityTier.DEADLINE if c.deadline is not None else PriorityTier.ROUTINE

    def key(self, c: Candidate, now: datetime) -> tuple[int, datetime, datetime, str]:
        """Sort key: tier, then the time that matters in that tier, then due time, then id for stability."""
        tier = self.tier(c, now)
        first = c.deadline if tier in (PriorityTier.URGENT_DEADLINE, PriorityTier.DEADLINE) and c.deadline else c.due_at
        return (tier, first, c.due_at, c.lead_id)

    def rank(self, candidates: Iterable[Candidate], now: datetime) -> list[Candidate]:
        """The candidates due at ``now``, best first."""
        return sorted((c for c in candidates if c.due_at <= now), key=lambda c: self.key(c, now))


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """The parsed campaign rules, built once by the composition root and handed to runner and simulator."""

    windows: CallingWindows
    retry: RetryPolicy
    priority: Prioritizer
    wrap_up_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> CampaignRules:
        """Parse the campaign section of ``settings`` in the dealer's time zone."""
        c: CampaignDefaults = settings.campaigns
        return cls(
            CallingWindows.from_settings(c.windows, settings.dealer.timezone),
            RetryPolicy.from_settings(c.retry),
            Prioritizer(c.deadline_urgent_s),
            c.wrap_up_timeout_s,
        )


def settings_problems(c: CampaignDefaults, timezone: str) -> list[str]:
    """What is wrong in ``[campaigns]``: parsed by the code that will use it, so both agree."""
    problems: list[str] = []
    p = c.pacing
    if p.mode not in ("preview", "progressive", "predictive"):
        problems.append(f"campaigns.pacing.mode = {p.mode!r}: must be preview, progressive or predictive")
    if not 0 < p.max_abandon_rate < 1:
        problems.append(f"campaigns.pacing.max_abandon_rate = {p.max_abandon_rate}: must be between 0 and 1")
    if not 0 <= p.abandon_margin < p.max_abandon_rate:
        problems.append(
            f"campaigns.pacing.abandon_margin = {p.abandon_margin}: must be >= 0 and below max_abandon_rate"
        )
    if not 0 < p.throttle_band <= p.max_abandon_rate:
        problems.append(f"campaigns.pacing.throttle_band = {p.throttle_band}: must be > 0 and at most max_abandon_rate")
    if not 0 < p.gain_min <= p.gain_start <= p.gain_max:
        problems.append("campaigns.pacing: need 0 < gain_min <= gain_start <= gain_max")
    if p.gain_step_down <= 0 or p.sample_size < 10 or p.warmup_attempts < 0 or p.rolling_days < 1:
        problems.append(
            "campaigns.pacing: gain_step_down > 0, sample_size >= 10, warmup_attempts >= 0, rolling_days >= 1"
        )
    if c.wrap_up_timeout_s <= 0:
        problems.append(f"campaigns.wrap_up_timeout_s = {c.wrap_up_timeout_s}: must be positive")
    if c.preview_timeout_s <= 0:
        problems.append(f"campaigns.preview_timeout_s = {c.preview_timeout_s}: must be positive")
    if (
        not c.pause_reasons
        or any(not r.strip() for r in c.pause_reasons)
        or len(set(c.pause_reasons)) != len(c.pause_reasons)
    ):
        problems.append(f"campaigns.pause_reasons = {list(c.pause_reasons)}: must be distinct, non-empty texts")
    if c.deadline_urgent_s < 0:
        problems.append(f"campaigns.deadline_urgent_s = {c.deadline_urgent_s}: must not be negative")
    try:
        RetryPolicy.from_settings(c.retry)
    except PolicyError as exc:
        problems.append(str(exc))
    try:
        CallingWindows.from_settings(c.windows, timezone)
    except PolicyError as exc:
        problems.append(str(exc))
    return problems
