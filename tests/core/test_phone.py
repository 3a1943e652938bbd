"""Phone numbers: one canonical form in, masked form in logs, the right digits to the PBX."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.phone import _MAINLAND, DialFormat, InvalidPhone, Phone, _parsed, dial_string, mask, normalize


@pytest.mark.parametrize(
    ("raw", "e164", "mobile"),
    [
        ("13800138000", "+8613800138000", True),
        ("+86 138 0013 8000", "+8613800138000", True),
        ("008613800138000", "+8613800138000", True),
        ("010-8888 6666", "+861088886666", False),
        ("02188886666", "+862188886666", False),
        ("+12025550123", "+12025550123", False),
    ],
)
def test_normalize_to_e164(raw: str, e164: str, mobile: bool) -> None:
    phone = normalize(raw)
    assert (phone.e164, phone.mobile) == (e164, mobile)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("123", "wrong length"),
        ("abc", "not a number"),
        ("1380013800", "not a valid number"),
        ("12345678901", "not a valid number"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize(raw)
    assert info.value.reason == reason and repr(raw) in str(info.value)


def test_dial_string_national_and_e164() -> None:
    mobile, landline, foreign = normalize("13800138000"), normalize("01088886666"), normalize("+12025550123")
    assert dial_string(mobile, DialFormat.NATIONAL) == "13800138000"
    assert dial_string(landline, DialFormat.NATIONAL) == "01088886666"
    assert dial_string(foreign, DialFormat.NATIONAL) == "0012025550123"
    assert dial_string(mobile, DialFormat.E164) == "+8613800138000"


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+8613800138000", "+86138****8000"), ("13800138000", "138****8000"), ("12345", "*****"), ("", "")],
)
def test_mask_hides_the_middle(number: str, masked: str) -> None:
    assert mask(number) == masked


def _outcome(check: Callable[..., Phone], *args: str) -> tuple[str, bool] | str:
    try:
        phone = check(*args)
    except InvalidPhone as exc:
        return exc.reason
    return phone.e164, phone.mobile


def _mainland_corpus() -> list[str]:
    """Both shapes the fast path takes, over every leading block and length, written as files write them,
    with the edges phonenumbers reads otherwise (carrier and international prefixes, the country code)."""
    rng = random.Random(18)
    digits = [f"{block}{rng.randrange(10**7):07d}" for block in range(1000, 2000) for _ in range(4)]
    digits += [
        f"0{area}{rng.randrange(10**tail):0{tail}d}" for area in range(100, 1000) for tail in range(3, 10)
    ]  # trunk 0, a 3-digit start, national numbers of 6 to 12 digits
    digits += [f"0{rng.randrange(10**n):0{n}d}" for n in range(1, 15) for _ in range(20)]  # 00…, short, long
    digits += [f"{p}{rng.randrange(10**11):011d}" for p in ("17951", "17911", "11808", "12593", "86", "0086")]
    digits += [f"86{rng.randrange(10**n):0{n}d}" for n in range(5, 13) for _ in range(10)]
    written = []
    for number in digits:
        written.append(number)
        cut = rng.randrange(1, len(number))
        written.append(f"{number[:cut]}{rng.choice(['-', ' ', ' - ', '--'])}{number[cut:]}")
    return written


def test_the_mainland_fast_path_agrees_with_phonenumbers_on_a_corpus() -> None:
    """The fast path (mobiles as 11 digits, landlines with their trunk 0) gives what phonenumbers gives,
    number, kind or reason, for every number of the corpus it takes; the rest it leaves to phonenumbers."""
    taken = 0
    outcomes: set[str | bool] = set()
    for text in _mainland_corpus():
        national = _MAINLAND.national(text)
        if national is None:
            continue
        taken += 1
        fast = _outcome(normalize, text)
        assert fast == _outcome(_parsed, text, text, "CN"), text
        outcomes.add(fast if isinstance(fast, str) else fast[1])
    # Not vacuous: most of the corpus took the fast path, with every kind of result.
    assert taken > 0.8 * len(_mainland_corpus())
    assert outcomes == {True, False, "not a valid number", "not a dialable mobile or landline"}


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789 -", min_size=2, max_size=16))
def test_any_digits_read_the_same_by_either_path(text: str) -> None:
    text = text.strip()
    if _MAINLAND.national(text) is not None:
        assert _outcome(normalize, text) == _outcome(_parsed, text, text, "CN")


def test_every_five_digit_mobile_start_types_its_numbers_alike() -> None:
    """What lets ``_MAINLAND`` type an 11-digit mobile by its first five digits: phonenumbers gives every
    number of each start 13000-19999 (bar the 179 carrier prefix) the same number type or reason, checked
    on the lowest and highest number of the start and on random ones."""
    rng = random.Random(18)
    kinds: set[str | bool] = set()
    for start in range(13000, 20000):
        if str(start).startswith("179"):
            continue
        tails = ["000000", "999999", *(f"{rng.randrange(10**6):06d}" for _ in range(2))]
        outcomes = {_kind(_outcome(_parsed, text, text, "CN")) for text in (f"{start}{tail}" for tail in tails)}
        assert len(outcomes) == 1, (start, outcomes)
        kinds |= outcomes
    assert kinds == {True, "not a valid number"}  # mobiles and unassigned starts: both kinds were met


def test_a_mobile_typed_by_its_start_reads_as_phonenumbers_reads_it() -> None:
    """Numbers whose start was typed before (the fast lookup) give what phonenumbers gives, for every start
    and shape: the plain 11 digits take the lookup, written otherwise they are read in full."""
    rng = random.Random(3)
    starts = [s for s in range(13000, 20000) if not str(s).startswith("179")]
    for start in starts:
        _outcome(normalize, f"{start}{rng.randrange(10**6):06d}")  # types the start
    assert set(_MAINLAND._mobile_types) >= {str(s) for s in starts}  # so the numbers below take the lookup
    for _ in range(5000):
        digits = f"{rng.choice(starts)}{rng.randrange(10**6):06d}"
        for text in (
            digits,
            f"+86 {digits}",
            f"0086-{digits[:3]}-{digits[3:]}",
            f"{digits[:3]} {digits[3:7]} {digits[7:]}",
        ):
            assert _outcome(normalize, text) == _outcome(_parsed, text, text, "CN"), text
    assert _MAINLAND.national("１3800138000") is None  # fullwidth digits are not the fast lookup's
    assert _outcome(normalize, "1380013800０") == _outcome(_parsed, "1380013800０", "1380013800０", "CN")


def _kind(outcome: tuple[str, bool] | str) -> str | bool:
    return outcome if isinstance(outcome, str) else outcome[1]
