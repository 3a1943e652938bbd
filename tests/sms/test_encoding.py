"""Alphabet choice and segmentation: what the operator bills and the handset reassembles."""

from __future__ import annotations

import pytest

from dialer.domain.sms.encoding import DataCoding, decode, is_gsm7, part_count, segment


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("你" * 70, 1),
        ("你" * 71, 2),
        ("你" * 134, 2),
        ("你" * 135, 3),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
    ],
)
def test_part_counts_follow_the_standard_limits(text: str, parts: int) -> None:
    assert part_count(text) == parts


def test_chinese_goes_as_ucs2_with_67_characters_and_a_concatenation_header_per_part() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(150))
    seg = segment(text, ref=0x2A)
    assert seg.coding is DataCoding.UCS2 and seg.concatenated
    assert [p[:6] for p in seg.parts] == [bytes((5, 0, 3, 0x2A, 3, i)) for i in (1, 2, 3)]
    bodies = [p[6:].decode("utf-16-be") for p in seg.parts]
    assert [len(b) for b in bodies] == [67, 67, 16]
    assert "".join(bodies) == text


def test_single_part_has_no_header() -> None:
    seg = segment("您好", ref=1)
    assert seg.parts == ("您好".encode("utf-16-be"),) and not seg.concatenated


def test_one_chinese_character_makes_the_whole_message_ucs2() -> None:
    assert is_gsm7("Hello @ 10:00 [x]") and not is_gsm7("Hello 你")
    assert segment("a" * 100 + "你", 0).coding is DataCoding.UCS2


def test_gsm_extension_characters_count_twice_and_are_never_split_from_their_escape() -> None:
    text = "a" * 152 + "€" + "b" * 10  # 152 + 2 + 10 septets
    seg = segment(text, ref=9)
    assert seg.coding is DataCoding.GSM7 and len(seg.parts) == 2
    assert seg.parts[0][6:] == b"a" * 152  # the escape pair did not fit: it moved to part 2 whole
    assert seg.parts[1][6:8] == bytes((0x1B, 0x65))
    assert "".join(decode(p, DataCoding.GSM7, True) for p in seg.parts) == text


def test_an_emoji_surrogate_pair_stays_in_one_part() -> None:
    text = "你" * 66 + "🚗" + "好" * 5  # 73 UTF-16 units; the pair would straddle units 67/68
    seg = segment(text, ref=3)
    assert len(seg.parts) == 2
    assert decode(seg.parts[0], DataCoding.UCS2, True) == "你" * 66
    assert decode(seg.parts[1], DataCoding.UCS2, True) == "🚗好好好好好"


def test_decode_reads_ascii_replies_and_strips_a_header() -> None:
    assert decode(b"T", DataCoding.GSM7, False) == "T"
    assert decode(bytes((5, 0, 3, 1, 1, 1)) + "退订".encode("utf-16-be"), DataCoding.UCS2, True) == "退订"


def test_reference_must_fit_one_byte() -> None:
    with pytest.raises(ValueError, match="one byte"):
        segment("x", 256)
