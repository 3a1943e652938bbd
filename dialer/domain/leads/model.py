"""The lead: who to call, why, for whom, and by when.

Pure: no I/O. The enums here are the one vocabulary for lead sources, lead
states and intent levels; the store, the import, the DOSS mapping and the KPIs
all speak them. Field parsers turn what a dealer types into a spreadsheet into
canonical values, raising :class:`FieldError` with the reason in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from enum import StrEnum
from functools import lru_cache

from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.leads.errors import LeadStateError
from dialer.phone import InvalidPhone, normalize


class LeadSource(StrEnum):
    """Where a lead came from; reports are cut by it, so every lead has exactly one."""

    HQ = "hq"  # issued by the carmaker's HQ through DOSS
    WEB = "web"  # car portals and the dealer's own posts
    LOW_INTENT = "low_intent"  # handed over by the sales manager from the showroom
    DEFEATED = "defeated"  # lost in the showroom, handed over with the reason
    BASE_CUSTOMER = "base_customer"  # existing owners, for repurchase
    REFERRAL = "referral"  # flagged by after-sales or customer service
    INBOUND = "inbound"  # called us

    @property
    def zh(self) -> str:
        """The label dealers use (and DOSS reports are cut by)."""
        return _SOURCE_ZH[self]


_SOURCE_ZH: Mapping[LeadSource, str] = {
    LeadSource.HQ: "总部下发",
    LeadSource.WEB: "网络",
    LeadSource.LOW_INTENT: "低意向",
    LeadSource.DEFEATED: "战败",
    LeadSource.BASE_CUSTOMER: "基盘客户",
    LeadSource.REFERRAL: "推荐",
    LeadSource.INBOUND: "来电",
}

# The car portals whose leads the DCC receives, by what dealers type for them (Chinese name, site name). A
# portal's lead is a web lead; the lead's creation keeps which portal (docs/kpi.md, "leads per source").
_PORTALS: Mapping[str, str] = {
    "汽车之家": "汽车之家",
    "autohome": "汽车之家",
    "易车": "易车",
    "易车网": "易车",
    "bitauto": "易车",
    "懂车帝": "懂车帝",
    "dongchedi": "懂车帝",
    "太平洋汽车网": "太平洋汽车网",
    "太平洋汽车": "太平洋汽车网",
    "pcauto": "太平洋汽车网",
}

# What dealers actually type in the source column, besides the canonical value and
# the Chinese label. Portal names count as "web" because KPIs are cut by channel.
_SOURCE_ALIASES: Mapping[str, LeadSource] = {
    **{s.value: s for s in LeadSource},
    **{s.zh: s for s in LeadSource},
    "总部": LeadSource.HQ,
    "厂家": LeadSource.HQ,
    "厂家下发": LeadSource.HQ,
    "sgm": LeadSource.HQ,
    "cem": LeadSource.HQ,
    "网络集客": LeadSource.WEB,
    "网站": LeadSource.WEB,
    **dict.fromkeys(_PORTALS, LeadSource.WEB),
    "低意向客户": LeadSource.LOW_INTENT,
    "low-intent": LeadSource.LOW_INTENT,
    "战败客户": LeadSource.DEFEATED,
    "lost": LeadSource.DEFEATED,
    "基盘": LeadSource.BASE_CUSTOMER,
    "再购": LeadSource.BASE_CUSTOMER,
    "老客户": LeadSource.BASE_CUSTOMER,
    "base": LeadSource.BASE_CUSTOMER,
    "base-customer": LeadSource.BASE_CUSTOMER,
    "售后推荐": LeadSource.REFERRAL,
    "客服推荐": LeadSource.REFERRAL,
    "转介绍": LeadSource.REFERRAL,
    "呼入": LeadSource.INBOUND,
}


class LeadState(StrEnum):
    """Where a lead is, mirroring the DOSS lifecycle the handbook describes.

    new (DOSS "unprocessed business") -> following (first follow-up done) ->
    invited (visit booked) -> visited (came to the store) -> deal (order reported).
    defeated is "lost, with a reason"; only a sales manager's re-activation
    (reactivated) brings it back. invalid is what the monthly clean-up removes
    (wrong number, not a real customer). deal and invalid are final.
    """

    NEW = "new"
    FOLLOWING = "following"
    INVITED = "invited"
    VISITED = "visited"
    DEAL = "deal"
    DEFEATED = "defeated"
    REACTIVATED = "reactivated"
    INVALID = "invalid"

    @property
    def zh(self) -> str:
        """The DOSS wording of the state."""
        return _STATE_ZH[self]

    @property
    def is_open(self) -> bool:
        """Still worked by the DCC: it can be due for a call or an SMS."""
        return self not in (LeadState.DEAL, LeadState.DEFEATED, LeadState.INVALID)


_STATE_ZH: Mapping[LeadState, str] = {
    LeadState.NEW: "未处理",
    LeadState.FOLLOWING: "跟进中",
    LeadState.INVITED: "已邀约",
    LeadState.VISITED: "已到店",
    LeadState.DEAL: "已成交",
    LeadState.DEFEATED: "战败",
    LeadState.REACTIVATED: "已激活",
    LeadState.INVALID: "无效",
}

_WORKING = frozenset(
    {LeadState.FOLLOWING, LeadState.INVITED, LeadState.VISITED, LeadState.DEAL, LeadState.DEFEATED, LeadState.INVALID}
)

# Which state changes DOSS allows. A visit that did not close goes back to
# following (or a new invitation); a defeated lead only returns via re-activation.
TRANSITIONS: Mapping[LeadState, frozenset[LeadState]] = {
    LeadState.NEW: _WORKING,
    LeadState.REACTIVATED: _WORKING,
    LeadState.FOLLOWING: _WORKING - {LeadState.FOLLOWING},
    LeadState.INVITED: _WORKING - {LeadState.INVITED},
    LeadState.VISITED: (_WORKING - {LeadState.VISITED}) | {LeadState.INVITED},
    LeadState.DEFEATED: frozenset({LeadState.REACTIVATED, LeadState.INVALID}),
    LeadState.DEAL: frozenset(),
    LeadState.INVALID: frozenset(),
}


def check_transition(lead_id: int, current: LeadState, target: LeadState) -> None:
    """Refuse a state change DOSS would not accept, naming the lead and both states."""
    if target not in TRANSITIONS[current]:
        raise LeadStateError(f"lead {lead_id}: cannot go from {current.value} to {target.value}")


class IntentLevel(StrEnum):
    """DOSS purchase intent: H buys within days, then A, B, C by horizon (see IntentSettings)."""

    H = "H"
    A = "A"
    B = "B"
    C = "C"


class LeadEventKind(StrEnum):
    """The kinds of lead_events this package writes; other packages append kinds of their own.

    The ``lead_events`` table is the lead's full, append-only history: contacts,
    state changes, ownership, what each import did.
    """

    CREATED = "created"  # entered the system (data: import_id, row, source, owner; handed_over_at, portal if known)
    UPDATED = "updated"  # an import filled empty fields or added numbers
    ASSIGNED = "assigned"  # got its first owner
    OWNERSHIP_CONFLICT = "ownership_conflict"  # someone else claimed it; the first owner kept it
    TRANSFERRED = "transferred"  # a manager gave it to another owner (data: from, to, reason)
    # The same person, filed under their one identity: a name a file used became an alias (data: from, to, reason)
    OWNER_RENAMED = "owner_renamed"
    OPT_OUT = "opt_out"  # no more calls or SMS
    CONTACT = "contact"  # a follow-up that reached the customer (data: channel, outcome, attempt_id)
    ATTEMPT = "attempt"  # a call that did not reach the customer: history, not a follow-up
    STATE = "state"  # state change (data: from, to, reason)
    CALLBACK = "callback"  # the customer chose a time for the next call
    VISIT_BOOKED = "visit_booked"
    VISIT_REMINDED = "visit_reminded"
    VISIT_CONFIRMED = "visit_confirmed"  # the customer confirmed the booked visit (SMS reply)
    VISIT_CANCELLED = "visit_cancelled"  # the customer called the visit off (SMS reply); not an opt-out
    # A person placed a call by hand (data: attempt_id, phone, window_override: the supervisor's reason
    # when the calling windows were closed); its result follows as contact/attempt like any call's.
    MANUAL_CALL = "manual_call"
    # A person sent the customer an SMS from the console (data: message_id, template, parts, not_before:
    # when the sending window lets it go); the outbox keeps its delivery.
    SMS = "sms"
    # HQ issued the customer again (a row of an HQ file with a later issue time): the lead is HQ's, its
    # 48-hour clock starts again (data: import_id, row, issued_at, from_issued_at, from_source, from_state).
    REISSUED = "reissued"


class PhoneKind(StrEnum):
    """Mobile or landline, as the numbering plan says (not as the column said)."""

    MOBILE = "mobile"
    LANDLINE = "landline"


@dataclass(frozen=True, slots=True)
class LeadPhone:
    """One normalized number of a lead; a number belongs to at most one lead."""

    e164: str
    kind: PhoneKind


@dataclass(frozen=True, slots=True)
class Lead:
    """A lead as the store holds it (times are aware UTC datetimes)."""

    id: int
    name: str
    source: LeadSource
    state: LeadState
    phones: tuple[LeadPhone, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    model: str | None = None  # model of interest
    intent: IntentLevel | None = None
    current_car: str | None = None  # base customers: what they drive now
    purchase_date: date | None = None  # base customers: when they bought it
    owner: str | None = None
    owned_at: datetime | None = None
    consent: bool | None = None  # None: the source did not say
    opt_out_at: datetime | None = None  # set: no calls, no SMS
    issued_at: datetime | None = None  # HQ issue time
    handed_over_at: datetime | None = None  # sales manager's hand-over (low intent, defeated, re-activation)
    first_contact_at: datetime | None = None  # first phone follow-up that reached the customer
    last_contact_at: datetime | None = None
    callback_at: datetime | None = None  # the customer's chosen time for the next call
    visit_at: datetime | None = None  # booked store visit
    visit_reminded_at: datetime | None = None
    visit_confirmed_at: datetime | None = None  # the customer confirmed the booked visit
    defeat_reason: str | None = None
    note: str | None = None
    due_at: datetime | None = None
    due_kind: str | None = None
    dealer_id: int = MAIN_DEALER_ID  # whose lead this is (docs/store.md "Dealers")

    @property
    def followed_up(self) -> bool:
        """Had its first phone follow-up: what the follow-up rate KPI counts."""
        return self.first_contact_at is not None

    @property
    def primary_phone(self) -> LeadPhone | None:
        """The number to dial first: a mobile if the lead has one."""
        return min(self.phones, key=lambda p: p.kind != PhoneKind.MOBILE, default=None)


class FieldError(ValueError):
    """One field of one input row is unusable; ``reason`` is short, stable English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


UNPRINTABLE_REASON = "contains an unprintable character"

# What no lead field may hold: C0 controls except tab, line feed and carriage return (a note may
# hold line breaks; parse_text folds them into spaces), DEL and the C1 controls, UTF-16 surrogates
# (only a broken decoder leaves one; SQLite refuses them) and the Unicode non-characters
# (U+FDD0..U+FDEF and the last two code points of every plane, U+FFFE/U+FFFF among them).
_UNPRINTABLE_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + "".join(
    rf"\U{plane:04X}FFFE\U{plane:04X}FFFF" for plane in range(17)
)
_UNPRINTABLE = re.compile(f"[{_UNPRINTABLE_CLASS}]")
# What a report writes as an escape: the above plus the line breaks and tabs that would break a table row.
_ESCAPED = re.compile(rf"[{_UNPRINTABLE_CLASS}\t\n\r]")
# White space a report trims off a value's ends: str.strip()'s set minus the controls it would hide.
_EDGE_SPACE = re.compile(r"^[^\S\x0b\x0c\x1c-\x1f\x85]+|[^\S\x0b\x0c\x1c-\x1f\x85]+$")


def check_printable(raw: object) -> None:
    """Refuse a cell holding a control character, a lone surrogate or a non-character.

    Such characters are never part of a name, a model or a note: they come from broken exports
    or pranks, and stored they would break the CSV, XML and terminal output built from the lead.
    Runs on the raw cell, before any parser trims or folds white space, so none can slip through.
    """
    if isinstance(raw, str) and _UNPRINTABLE.search(raw):
        raise FieldError(UNPRINTABLE_REASON)


def shown(raw: object) -> str:
    """A cell as a report shows it: trimmed, every control character written as an escape (``\\x00``).

    A rejection must show what was wrong without putting the wrong bytes into the terminal,
    the web page or the store; the escapes are Python's (``\\t``, ``\\x85``, ``\\ud800``, ``\\ufffe``).
    """
    text = _EDGE_SPACE.sub("", str(raw))
    if len(text) > _SHOWN_MAX:
        # A report of a huge cell must not be huge itself (the console returns reports as JSON).
        text = f"{text[:_SHOWN_MAX]}… ({len(text)} characters)"
    return _ESCAPED.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# How much of a cell a rejection shows: enough to find the row, never the whole of a huge cell.
_SHOWN_MAX = 200


_DIGITS_ONLY = re.compile(r"[\s\-()（）]")
# A Chinese local landline without its area code: 7 or 8 digits not starting with 0 or 1.
_LOCAL_LANDLINE = re.compile(r"^[2-9]\d{6,7}$")


def parse_phone(raw: object, region: str) -> LeadPhone:
    """Normalize one number; the reason says what is wrong (e.g. a landline without area code)."""
    text = _cell_text(raw)
    if text is None:
        raise FieldError("empty")
    phone = _normalized(text, region)
    if isinstance(phone, str):
        raise FieldError(phone)
    return phone


@lru_cache(maxsize=1 << 16)
def _normalized(text: str, region: str) -> LeadPhone | str:
    """The number, or why it is refused. Cached across files: numbers in shapes the mainland fast path
    does not take (``dialer.phone``) cost phonenumbers ~50 us each, and files repeat their numbers."""
    if _LOCAL_LANDLINE.match(_DIGITS_ONLY.sub("", text)):
        return "landline without area code"
    try:
        phone = normalize(text, region)
    except InvalidPhone as exc:
        return exc.reason
    return LeadPhone(phone.e164, PhoneKind.MOBILE if phone.mobile else PhoneKind.LANDLINE)


def parse_source(raw: object) -> LeadSource:
    """The source channel from its value, Chinese label or a common alias (portal names are web)."""
    text = _cell_text(raw)
    if text is None:
        raise FieldError("empty")
    source = _SOURCE_ALIASES.get(text.lower())
    if source is None:
        raise FieldError("unknown source")
    return source


def parse_portal(raw: object) -> str | None:
    """The car portal a source cell names (its usual Chinese name), None for any other source."""
    text = _cell_text(raw)
    return None if text is None else _PORTALS.get(text.lower())


def parse_intent(raw: object) -> IntentLevel | None:
    """H/A/B/C, also written "H级" or in lower case; empty means not yet judged."""
    text = _cell_text(raw)
    if text is None:
        return None
    text = text.upper().removesuffix("级").strip()
    try:
        return IntentLevel(text)
    except ValueError:
        raise FieldError("intent level must be H, A, B or C") from None


_TRUE = frozenset({"是", "y", "yes", "true", "1", "同意", "✓", "√"})
_FALSE = frozenset({"否", "n", "no", "false", "0", "不同意", "×"})


def parse_flag(raw: object) -> bool | None:
    """是/否 (or yes/no, 1/0, ✓/×); empty means the file did not say."""
    text = _cell_text(raw)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FieldError("expected 是 or 否 (yes or no)")


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M")


def parse_datetime(raw: object, tz: tzinfo) -> datetime | None:
    """A local date/time as dealers write it (or a spreadsheet cell), as aware UTC.

    Times without a zone are the dealer's local time; a bare date means midnight.
    """
    if raw is None:
        return None
    if isinstance(raw, datetime):
        local = raw if raw.tzinfo else raw.replace(tzinfo=tz)
        return local.astimezone(UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time(), tz).astimezone(UTC)
    text = _cell_text(raw)
    if text is None:
        return None
    try:
        # Fast path for the common ISO shapes (2026-11-28, 2026-11-28 10:00[:00]).
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return parse_datetime(parsed, tz)
    day_text, _, time_text = text.replace("T", " ").partition(" ")
    day = _parse_day(day_text)
    clock = _parse_clock(time_text.strip()) if time_text.strip() else time()
    return datetime.combine(day, clock, tz).astimezone(UTC)


def parse_date(raw: object) -> date | None:
    """A calendar date (purchase date) from text or a spreadsheet cell; a time part is ignored."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = _cell_text(raw)
    return None if text is None else _parse_day(text.split(" ")[0])


def _parse_day(text: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldError("not a date (use YYYY-MM-DD)")


def _parse_clock(text: str) -> time:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).time()
        except ValueError:
            continue
    raise FieldError("not a time (use HH:MM)")


def parse_text(raw: object) -> str | None:
    """Free text: trimmed, inner runs of white space collapsed, empty means absent."""
    text = _cell_text(raw)
    return None if text is None else " ".join(text.split())


def _cell_text(raw: object) -> str | None:
    """A cell as text; spreadsheets hand numbers over as int or float (13800138000.0)."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip()
    return text or None
