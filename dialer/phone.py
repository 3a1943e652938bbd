"""Phone numbers: normalized once on entry, stored as E.164, masked in logs.

``phonenumbers`` does the parsing and validation; this module fixes the project's
policy on top of it (default region, which number types a call center may dial,
how a number looks in a log line and on the wire to the PBX).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "CN"

_DIALABLE_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.VOIP,
        PhoneNumberType.UAN,
    }
)


class InvalidPhone(ValueError):
    """A number that cannot be dialled, with the reason in plain words."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"invalid phone number {value!r}: {reason}")
        self.value = value
        self.reason = reason


class DialFormat(Enum):
    """How the PBX wants a number in the dial string."""

    NATIONAL = "national"  # 13800138000, 01088886666: what a Chinese carrier trunk expects
    E164 = "e164"  # +8613800138000


@dataclass(frozen=True, slots=True)
class Phone:
    """A validated number in canonical E.164 form.

    ``mobile`` comes from the numbering plan (not from which column a file put it
    in): SMS goes to mobiles only, and a mobile is the better number to dial first.
    """

    e164: str
    mobile: bool = False

    def __str__(self) -> str:
        return self.e164

    @property
    def masked(self) -> str:
        return mask(self.e164)


def normalize(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """Parse ``raw`` (spaces, dashes, +86, 0086 and area codes allowed) into a :class:`Phone`.

    Raises :class:`InvalidPhone` with the reason when the number is malformed, not a
    valid number for its region, or of a type a call center cannot dial (premium,
    pager, ...).
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(raw, "empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(raw, _parse_reason(exc)) from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(raw, "wrong length")
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(raw, "not a valid number")
    number_type = phonenumbers.number_type(parsed)
    if number_type not in _DIALABLE_TYPES:
        raise InvalidPhone(raw, "not a dialable mobile or landline")
    return Phone(phonenumbers.format_number(parsed, PhoneNumberFormat.E164), number_type == PhoneNumberType.MOBILE)


def dial_string(phone: Phone | str, fmt: DialFormat, region: str = DEFAULT_REGION) -> str:
    """The digits to hand to the PBX for ``phone``."""
    e164 = str(phone)
    if fmt is DialFormat.E164:
        return e164
    parsed = phonenumbers.parse(e164, region)
    if phonenumbers.region_code_for_number(parsed) != region:
        # A foreign number keeps its international prefix in national dialling.
        return "00" + e164[1:]
    return re.sub(r"\D", "", phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))


def mask(number: str) -> str:
    """Hide the middle of a number for logs: ``+8613800138000`` -> ``+86138****8000``."""
    digits = re.sub(r"\D", "", number or "")
    if len(digits) < 7:
        return "*" * len(digits)
    prefix = "+" if str(number).lstrip().startswith("+") else ""
    keep_head = 5 if prefix else 3
    return f"{prefix}{digits[:keep_head]}{'*' * (len(digits) - keep_head - 4)}{digits[-4:]}"


def _parse_reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "not a number")
