"""Parsers: request data -> typed values, with every bad field named. Handlers never parse by hand.

Kept apart from the handlers so the same parsing serves the HTML form and the JSON API, and so
it can be tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm, FollowUpPurpose
from dialer.domain.leads.model import IntentLevel
from dialer.web.errors import BadRequest


@dataclass(frozen=True, slots=True)
class DispositionRequest:
    """The after-call form, parsed: which attempt, how it ended, and what the agent recorded."""

    outcome: Outcome
    attempt_id: int | None
    form: DispositionForm


def _text(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True, slots=True)
class MilestoneRequest:
    """A showroom milestone as the forms and the API send it: when (None: now), test drive, model, note."""

    at: datetime | None
    test_drive: bool
    model: str | None
    note: str | None


_YES = frozenset({"1", "true", "on", "yes"})
_NO = frozenset({"", "0", "false", "off", "no"})


def parse_milestone(data: Mapping[str, object], tz: tzinfo) -> MilestoneRequest:
    """``at`` (dealer time, or ISO with an offset; empty: now), ``test_drive`` (a checkbox or a JSON bool),
    ``model``, ``note``; :class:`BadRequest` names each field that could not be read. Whether they fit the
    milestone is the DOSS service's rule."""
    errors: dict[str, str] = {}
    at: datetime | None = None
    if (text := _text(data, "at")) is not None:
        try:
            at = parse_local_datetime(text, tz)
        except ValueError:
            errors["at"] = f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)"
    raw = data.get("test_drive")
    test_drive = False
    if isinstance(raw, bool):
        test_drive = raw
    elif raw is not None and str(raw).strip().lower() in _YES:
        test_drive = True
    elif raw is not None and str(raw).strip().lower() not in _NO:
        errors["test_drive"] = f"{raw!r} is not yes or no"
    if errors:
        raise BadRequest(errors)
    return MilestoneRequest(at, test_drive, _text(data, "model"), _text(data, "note"))


def parse_local_datetime(text: str, tz: tzinfo) -> datetime:
    """``YYYY-MM-DDTHH:MM`` (a datetime-local input, dealer time) or ISO with an offset, as aware UTC."""
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(UTC)


def parse_disposition(data: Mapping[str, object], tz: tzinfo) -> DispositionRequest:
    """Parse the disposition form; :class:`BadRequest` lists every field that could not be read."""
    errors: dict[str, str] = {}
    disposition: Disposition | None = None
    raw = _text(data, "disposition")
    try:
        disposition = Disposition(raw or "")
    except ValueError:
        errors["disposition"] = f"{raw!r} is not one of {', '.join(d.value for d in Disposition)}"
    outcome = Outcome.ANSWERED
    raw_outcome = _text(data, "outcome")
    if raw_outcome is not None:
        try:
            outcome = Outcome(raw_outcome)
        except ValueError:
            errors["outcome"] = f"{raw_outcome!r} is not a call outcome"
    attempt_id: int | None = None
    raw_attempt = _text(data, "attempt_id")
    if raw_attempt is not None:
        attempt_id = whole_number(raw_attempt)
        if attempt_id is None:
            errors["attempt_id"] = f"{raw_attempt!r} is not an attempt number"
    times: dict[str, datetime | None] = {}
    for name in ("visit_at", "next_follow_up_at"):
        text = _text(data, name)
        times[name] = None
        if text is not None:
            try:
                times[name] = parse_local_datetime(text, tz)
            except ValueError:
                errors[name] = f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)"
    intent: IntentLevel | None = None
    raw_intent = _text(data, "intent")
    if raw_intent is not None:
        try:
            intent = IntentLevel(raw_intent.upper())
        except ValueError:
            errors["intent"] = f"{raw_intent!r} is not H, A, B or C"
    purpose: FollowUpPurpose | None = None
    raw_purpose = _text(data, "purpose")
    if raw_purpose is not None:
        try:
            purpose = FollowUpPurpose(raw_purpose)
        except ValueError:
            errors["purpose"] = f"{raw_purpose!r} is not one of {', '.join(p.value for p in FollowUpPurpose)}"
    if errors or disposition is None:
        raise BadRequest(errors)
    form = DispositionForm(
        disposition=disposition,
        visit_at=times["visit_at"],
        next_follow_up_at=times["next_follow_up_at"],
        defeat_reason=_text(data, "defeat_reason"),
        intent=intent,
        purpose=purpose,
        model=_text(data, "model"),
        note=_text(data, "note"),
    )
    return DispositionRequest(outcome=outcome, attempt_id=attempt_id, form=form)


# The store's integers are 64-bit: an id or count past this names nothing and cannot even be looked up.
_STORE_INT_MAX = 2**63 - 1
# ASCII digits only: str.isdigit() also takes '²' and '٣', which int() then refuses or reads as 3.
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def whole_number(text: str, *, maximum: int = _STORE_INT_MAX) -> int | None:
    """``text`` as a whole number of ASCII digits at most ``maximum``, else None.

    The length is checked before int() runs: Python refuses more than 4,300 digits with a
    ValueError, and a long number is past any maximum anyway."""
    if not _DIGITS.fullmatch(text) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    number = int(text)
    return number if number <= maximum else None


def parse_int(value: str | None, name: str, *, default: int | None = None, maximum: int = _STORE_INT_MAX) -> int | None:
    """An optional whole number from the query string or the URL, at most ``maximum``."""
    if value is None or value == "":
        return default
    number = whole_number(value, maximum=maximum)
    if number is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        if _DIGITS.fullmatch(value):
            raise BadRequest({name: f"{shown!r} is more than {maximum}"})
        raise BadRequest({name: f"{shown!r} is not a whole number"})
    return number


def parse_presence_body(body: Mapping[str, Any]) -> str:
    """The pause request's JSON body: ``{"reason": "..."}``; which reasons are allowed is the presence service's rule."""
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise BadRequest({"reason": "expected a JSON object with the pause reason"})
    return reason.strip()


async def json_object(request: web.Request, *, empty: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object; a 400 naming ``body`` otherwise (``empty``: no body reads as ``{}``)."""
    if empty and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest({"body": "not JSON"}) from None
    if not isinstance(body, dict):
        raise BadRequest({"body": "expected a JSON object"})
    return body
