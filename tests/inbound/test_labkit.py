"""The lab's ears without a lab: the pure-Python G.711 mu-law codec and RMS that replaced audioop.

The whisper/barge test trusts these to tell speech from silence and to find the supervisor's
tone, so they are pinned to G.711's own values here, where a mistake is cheap to see.
"""

from __future__ import annotations

import math
import struct

import pytest

from tests.inbound.labkit import SAMPLE_RATE, pcm_to_ulaw, rms, tone_share, tone_ulaw, ulaw_to_pcm


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


@pytest.mark.parametrize(
    ("code", "linear"),
    [
        (0xFF, 0),
        (0x7F, 0),
        (0x00, -32124),
        (0x80, 32124),
        (0xFE, 8),
        (0x7E, -8),
        (0xEF, 132),
        (0xCF, 924),
        (0x8F, 16764),
    ],
)
def test_ulaw_decodes_to_the_g711_values(code: int, linear: int) -> None:
    assert samples(ulaw_to_pcm(bytes([code]))) == [linear]


@pytest.mark.parametrize(
    ("linear", "code"), [(0, 0xFF), (32767, 0x80), (-32768, 0x00), (-1, 0x7E), (7932, 0xA0), (16764, 0x8F)]
)
def test_linear_encodes_to_the_g711_codes(linear: int, code: int) -> None:
    assert pcm_to_ulaw(struct.pack("<h", linear)) == bytes([code])


def test_every_code_survives_a_round_trip() -> None:
    codes = bytes(c for c in range(256) if c != 0x7F)  # 0x7F is "-0", which encodes as +0 (0xFF)
    assert pcm_to_ulaw(ulaw_to_pcm(codes)) == codes


def test_rms_tells_silence_from_a_tone() -> None:
    assert rms(b"") == 0.0
    assert rms(ulaw_to_pcm(b"\xff" * 800)) == 0.0
    # A sine at half scale has RMS 0.5 * 32767 / sqrt(2); mu-law keeps it within its 3 % step.
    assert rms(ulaw_to_pcm(tone_ulaw(1000, 0.5))) == pytest.approx(0.5 * 32767 / math.sqrt(2), rel=0.03)


def test_a_mu_law_tone_is_found_at_its_frequency_only() -> None:
    pcm = ulaw_to_pcm(tone_ulaw(1400, 1.0))
    assert len(pcm) == 2 * SAMPLE_RATE
    assert tone_share(pcm, 1400) > 0.95
    assert tone_share(pcm, 700) == 0.0
