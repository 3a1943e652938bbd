"""When and how often a customer may get an SMS, and what a reply means. Pure: no I/O.

The sending window protects customers from messages at night; the frequency caps keep
promotional waves from becoming spam (transactional messages the customer asked for,
such as a visit confirmation, are never capped). Reply keywords turn free text into
an opt-out (consent data, honoured by calls and SMS) or an interested lead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.domain.dayspans import SpanError, parse_span
from dialer.domain.sms.errors import SmsConfigError
from dialer.settings import SmsSettings

# The weekly promotional cap counts the last 7 days (a rolling week, not a calendar week).
CAP_WEEK = timedelta(days=7)


class ReplyKind(StrEnum):
    """What an inbound SMS means for its lead."""

    OPT_OUT = "opt_out"
    INTERESTED = "interested"  # to a visit's confirmation or reminder: the customer confirms the visit
    DECLINED = "declined"  # to a visit's confirmation or reminder: the customer calls the visit off
    OTHER = "other"


# Customers wrap keywords in punctuation and spaces ("T。", " 退订！"); those do not change the meaning.
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _canonical(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()


@dataclass(frozen=True, slots=True)
class SendRules:
    """The sending window, the promotional caps and the reply keywords, parsed once from settings."""

    tz: tzinfo
    window_start: time
    window_end: time
    max_promo_per_day: int
    max_promo_per_week: int
    opt_out: frozenset[str]
    interested: frozenset[str]
    decline: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, sms: SmsSettings, timezone: str) -> SendRules:
        """Parse ``sms`` or raise :class:`SmsConfigError` naming the key and value."""
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SmsConfigError(f"dealer.timezone = {timezone!r}: unknown time zone") from None
        start, end = _parse_span(sms.window)
        if sms.max_promo_per_day < 0 or sms.max_promo_per_week < sms.max_promo_per_day:
            raise SmsConfigError(
                f"sms.max_promo_per_day = {sms.max_promo_per_day}, max_promo_per_week = {sms.max_promo_per_week}:"
                " need 0 <= per_day <= per_week"
            )
        opt_out = frozenset(_canonical(k) for k in sms.opt_out_keywords)
        interested = frozenset(_canonical(k) for k in sms.interested_keywords)
        decline = frozenset(_canonical(k) for k in sms.visit_decline_keywords)
        if "" in opt_out or "" in interested or "" in decline:
            raise SmsConfigError(
                "sms.opt_out_keywords / interested_keywords / visit_decline_keywords: a keyword is empty after"
                " trimming punctuation"
            )
        both = opt_out & interested
        if both:
            raise SmsConfigError(f"sms: keyword(s) {', '.join(sorted(both))} both opt out and show interest")
        # A decline may also be an opt-out keyword elsewhere ("不需要"), but never a confirmation.
        if decline & interested:
            raise SmsConfigError(
                f"sms: keyword(s) {', '.join(sorted(decline & interested))} both confirm and call off a visit"
            )
        return cls(tz, start, end, sms.max_promo_per_day, sms.max_promo_per_week, opt_out, interested, decline)

    def next_send_time(self, now: datetime) -> datetime:
        """``now`` if inside the window, else the next opening (UTC)."""
        local = now.astimezone(self.tz)
        if self.window_start <= local.time() < self.window_end:
            return now
        day = local.date() if local.time() < self.window_start else local.date() + timedelta(days=1)
        return datetime.combine(day, self.window_start, self.tz).astimezone(UTC)

    def day_start(self, now: datetime) -> datetime:
        """Midnight of the dealer's local day containing ``now`` (UTC): the daily cap's boundary."""
        local = now.astimezone(self.tz)
        return datetime.combine(local.date(), time(), self.tz).astimezone(UTC)

    def cap_reason(self, now: datetime, recent_promo: Sequence[datetime]) -> str | None:
        """Why one more promotional SMS to a number would break a cap, or None if it may go.

        ``recent_promo``: when the promotional messages of the last 7 days to that number were queued.
        """
        week = [t for t in recent_promo if t > now - CAP_WEEK]
        today = [t for t in week if t >= self.day_start(now)]
        if len(today) >= self.max_promo_per_day:
            return f"daily cap of {self.max_promo_per_day} promotional SMS reached"
        if len(week) >= self.max_promo_per_week:
            return f"weekly cap of {self.max_promo_per_week} promotional SMS reached"
        return None

    def classify(self, text: str, *, about_visit: bool = False) -> ReplyKind:
        """The meaning of a reply: the whole reply must be a keyword ("T", "退订", "1", "好的").

        ``about_visit``: it answers a visit's confirmation or reminder, where a decline ("不需要")
        calls the visit off instead of opting the customer out of everything.
        """
        key = _canonical(text)
        if about_visit and key in self.decline:
            return ReplyKind.DECLINED
        if key in self.opt_out:
            return ReplyKind.OPT_OUT
        if key in self.interested:
            return ReplyKind.INTERESTED
        return ReplyKind.OTHER


def _parse_span(text: str) -> tuple[time, time]:
    try:
        return parse_span(text)
    except SpanError as exc:
        raise SmsConfigError(f"sms.window = {text!r}: {exc}") from None


def settings_problems(sms: SmsSettings, timezone: str) -> list[str]:
    """What is wrong in ``[sms]``: parsed by the code that will use it, so both agree."""
    problems: list[str] = []
    if sms.driver not in ("smpp", "pbx"):
        problems.append(f"sms.driver = {sms.driver!r}: must be 'smpp' or 'pbx'")
    if sms.cadence_handoff not in ("non_repliers", "all", "interested"):
        problems.append(f"sms.cadence_handoff = {sms.cadence_handoff!r}: must be non_repliers, all or interested")
    if not 0 <= sms.cadence_min_reply_rate <= 1:
        problems.append(f"sms.cadence_min_reply_rate = {sms.cadence_min_reply_rate}: must be between 0 and 1")
    if sms.smpp_window < 1 or sms.max_attempts < 1 or sms.batch_size < 1:
        problems.append("sms.smpp_window, sms.max_attempts and sms.batch_size must be at least 1")
    if not 0 < sms.backoff_base_s <= sms.backoff_max_s or not 0 < sms.reconnect_min_s <= sms.reconnect_max_s:
        problems.append("sms: need 0 < backoff_base_s <= backoff_max_s and 0 < reconnect_min_s <= reconnect_max_s")
    try:
        SendRules.from_settings(sms, timezone)
    except SmsConfigError as exc:
        problems.append(str(exc))
    return problems
