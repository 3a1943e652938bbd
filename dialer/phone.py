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
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberDesc, PhoneNumberFormat, PhoneNumberType

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
    if region == _MAINLAND.region and (national := _MAINLAND.national(text)) is not None:
        number, number_type = national
        return _dialable(raw, _MAINLAND.e164_prefix + number, number_type)
    return _parsed(raw, text, region)


def _parsed(raw: str, text: str, region: str) -> Phone:
    """``normalize`` through phonenumbers' parser: every shape a number may be written in."""
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
    return _dialable(raw, phonenumbers.format_number(parsed, PhoneNumberFormat.E164), phonenumbers.number_type(parsed))


def _dialable(raw: str, e164: str, number_type: int) -> Phone:
    """A number of a type the call center may dial (phonenumbers: a number is valid iff its type is known)."""
    if number_type == PhoneNumberType.UNKNOWN:
        raise InvalidPhone(raw, "not a valid number")
    if number_type not in _DIALABLE_TYPES:
        raise InvalidPhone(raw, "not a dialable mobile or landline")
    return Phone(e164, number_type == PhoneNumberType.MOBILE)


# A number written as national digits, ASCII only, with spaces or dashes between them.
_NATIONAL_SHAPE = re.compile(r"[0-9][0-9 -]*[0-9]")
# The start of an 11-digit mainland mobile typed by its first five digits: 13-19, bar the 179 carrier prefix.
_MOBILE_START = re.compile(r"1(?:[3-689][0-9]|7[0-8])[0-9]{8}\Z")
# The order in which phonenumbers tries a number's types (its _number_type_helper); fixed line and
# mobile come after these.
_TYPE_ORDER = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


def _pattern(desc: PhoneNumberDesc | None, length: int) -> re.Pattern[str] | None:
    """``desc``'s pattern if a national number of ``length`` digits may fit it (as phonenumbers decides:
    the lengths first, no lengths meaning any), else None."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return re.compile(desc.national_number_pattern)


@dataclass(frozen=True, slots=True)
class _TypePatterns:
    """The patterns a national number of one length can match, in the order phonenumbers tries them."""

    general: re.Pattern[str] | None
    special: tuple[tuple[re.Pattern[str], int], ...]
    fixed_line: re.Pattern[str] | None
    mobile: re.Pattern[str] | None


class _NationalNumbers:
    """The shapes nearly every number in a dealer's file has, classified with phonenumbers' own metadata
    for the region but without its generic parser.

    ``phonenumbers.parse`` and the validity and type checks after it take ~45 us a number (a 100 000-row
    file holds 200 000 numbers: 9 s). A mobile written as its digits (13812345678) or a landline with
    its trunk prefix and area code (0755-8888 6666) needs none of that parser's cases: no plus sign, no
    international or carrier prefix, no country code, no extension, no letters. Such a number's national
    number is its digits, less the trunk prefix, and its type is what the region's patterns say, tried in
    phonenumbers' order (its ``_number_type_helper``). Anything else, or anything phonenumbers might read
    otherwise (a carrier prefix such as 17951, digits that are valid with their leading 0), returns None
    and goes through phonenumbers. tests/core/test_phone.py checks the two agree on a corpus of both
    shapes and their edges.
    """

    def __init__(self, region: str) -> None:
        meta = PhoneMetadata.metadata_for_region(region)
        assert meta is not None and meta.general_desc is not None, region
        self.region = region
        self.e164_prefix = f"+{meta.country_code}"
        self._country_code = str(meta.country_code)
        self._international = re.compile(meta.international_prefix or "(?!)")
        self._trunk = meta.national_prefix or ""
        self._national_prefix = re.compile(meta.national_prefix_for_parsing or "(?!)")
        # Without a transform rule, stripping the trunk prefix is all the national prefix does.
        self._strips_plainly = not meta.national_prefix_transform_rule
        # Whether phonenumbers calls digits viable as they are (their pattern only, whatever their length).
        self._viable = re.compile(meta.general_desc.national_number_pattern or "(?!)")
        same = bool(meta.same_mobile_and_fixed_line_pattern)
        # Per length phonenumbers calls possible (not just locally dialable) for the region's numbers.
        self._by_length = {
            n: _TypePatterns(
                _pattern(meta.general_desc, n),
                tuple(
                    (pattern, kind)
                    for name, kind in _TYPE_ORDER
                    if (pattern := _pattern(getattr(meta, name), n)) is not None
                ),
                _pattern(meta.fixed_line, n),
                None if same else _pattern(meta.mobile, n),
            )
            for n in meta.general_desc.possible_length
        }
        self._same_pattern = same
        # The type of 11-digit mobiles by their first five digits, filled as numbers are typed (see national).
        self._mobile_types: dict[str, int] = {}

    def national(self, text: str) -> tuple[str, int] | None:
        """``text``'s national number and type, or None: phonenumbers must read it.

        A mobile written as its 11 digits (most numbers of most files) is typed by its first five digits
        once: in the mainland's metadata whatever follows them is any digits in every pattern such a
        number can match (tests/core/test_phone.py checks every five-digit start).
        """
        if (
            len(text) == 11
            and (kind := self._mobile_types.get(text[:5])) is not None
            and text.isascii()
            and text.isdigit()
        ):
            return text, kind
        if not _NATIONAL_SHAPE.fullmatch(text):
            return None
        digits = text.replace(" ", "").replace("-", "")
        if self._international.match(digits) or digits.startswith(self._country_code):
            return None
        prefix = self._national_prefix.match(digits)
        if prefix is None:
            number = digits
        elif (
            self._trunk
            and prefix.group() == self._trunk
            and prefix.lastindex is None
            and self._strips_plainly
            and not self._viable.fullmatch(digits)  # phonenumbers keeps a prefix whose digits are viable with it
        ):
            number = digits[len(self._trunk) :]
        else:
            return None  # a carrier code or a rule to apply
        patterns = self._by_length.get(len(number))
        if patterns is None or number.startswith("0"):
            return None  # a length phonenumbers judges by other rules, or Italian-style leading zeros
        kind = self._type(number, patterns)
        if number == text and _MOBILE_START.match(number):
            self._mobile_types[number[:5]] = kind
        return number, kind

    def _type(self, number: str, patterns: _TypePatterns) -> int:
        if patterns.general is None or not patterns.general.fullmatch(number):
            return PhoneNumberType.UNKNOWN
        for pattern, kind in patterns.special:
            if pattern.fullmatch(number):
                return kind
        mobile = patterns.mobile is not None and patterns.mobile.fullmatch(number) is not None
        if patterns.fixed_line is not None and patterns.fixed_line.fullmatch(number):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE if self._same_pattern or mobile else PhoneNumberType.FIXED_LINE
        return PhoneNumberType.MOBILE if mobile else PhoneNumberType.UNKNOWN


_MAINLAND = _NationalNumbers(DEFAULT_REGION)


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
