"""A private lab for the inbound and supervisor tests, and the tools to drive and hear it.

Why private: these tests change who answers (queue members, a supervisor phone that plays a
tone) and need the dialplan of this tree, so they render their own Asterisk + SIPp on their
own ports in a temporary folder (the Lab API) instead of disturbing the shared lab.

The ears: :class:`RtpCapture` reads every UDP packet on the loopback interface with a raw
AF_PACKET socket (the tests run as root), keeps the RTP that Asterisk sends to a given range
of ports, and :func:`tone_share` measures how much of that audio is one frequency (Goertzel).

G.711 mu-law and RMS are computed here in pure Python (the ``audioop`` module is deprecated and
gone in Python 3.13, and numpy is not a dependency); the audio is seconds long, so speed is no issue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dialer.lab.lab import Lab
from dialer.lab.layout import PortRange
from dialer.settings import Settings
from tests.conftest import REPO, settings_beside

SCENARIOS = REPO / "asterisk" / "sipp"
SAMPLE_RATE = 8000
_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4
_ETH_HEADER = 14
_RTP_HEADER = 12


def private_settings(root: Path, offset: int) -> Settings:
    """The suite's second-lab settings (every port shifted by ``offset``), recordings kept as WAV."""
    settings = settings_beside(root, offset)
    return dataclasses.replace(settings, recording=dataclasses.replace(settings.recording, compress="none"))


def private_lab(root: Path, offset: int) -> Iterator[tuple[Lab, Settings]]:
    """A lab of our own (no carrier party: nobody is called out); taken down afterwards."""
    settings = private_settings(root, offset)
    lab = Lab(settings)
    lab.up(customers=False)
    try:
        yield lab, settings
    finally:
        lab.down()


async def call_in(
    lab: Lab, settings: Settings, numbers: list[str], talk_ms: int, media: PortRange, spacing_ms: int = 10
) -> int:
    """Place one inbound call per number, ``spacing_ms`` apart (default: at once), from the inbound
    trunk's port; SIPp's exit status."""
    sipp_dir = lab.layout.dir("sipp")
    inf = sipp_dir / f"callers-{time.monotonic_ns()}.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in numbers), encoding="utf-8")
    port = settings.lab.inbound_port
    proc = await asyncio.create_subprocess_exec(
        "sipp", f"127.0.0.1:{settings.lab.sip_port}", "-sf", str(SCENARIOS / "inbound-caller.xml"),
        "-inf", str(inf), "-s", "4008001234", "-i", "127.0.0.1", "-p", str(port), "-cp", str(port + 1),
        "-mi", "127.0.0.1", "-mp", str(media.start), "-d", str(talk_ms),
        "-m", str(len(numbers)), "-l", str(len(numbers)), "-r", "1", "-rp", str(spacing_ms), "-nostdin", "-timeout", "90s",
        cwd=sipp_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        return await asyncio.wait_for(proc.wait(), 100)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@dataclass
class RtpCapture:
    """Every RTP payload Asterisk sends to ``ports`` on loopback, with the instant it was seen."""

    ports: PortRange
    packets: list[tuple[float, int, bytes]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        sock.bind(("lo", 0))
        sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    frame, address = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                if address[2] == _PACKET_OUTGOING:
                    continue  # loopback shows each packet twice: keep the received copy
                self._keep(frame)

    def _keep(self, frame: bytes) -> None:
        ip = frame[_ETH_HEADER:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            return
        udp = ip[(ip[0] & 0x0F) * 4 :]
        dst = struct.unpack("!H", udp[2:4])[0]
        payload = udp[8:]
        if not self.ports.start <= dst <= self.ports.end or len(payload) <= _RTP_HEADER or payload[0] >> 6 != 2:
            return
        if payload[1] & 0x7F != 0:
            return  # PCMU only (payload type 0); RFC 4733 events and the like are not audio
        self.packets.append((time.monotonic(), dst, payload[_RTP_HEADER:]))

    def audio(self, since: float, until: float) -> bytes:
        """16-bit linear audio of the packets seen in [since, until), in arrival order."""
        ulaw = b"".join(p for at, _, p in self.packets if since <= at < until)
        return ulaw_to_pcm(ulaw)


def goertzel_power(samples: list[int], freq: float) -> float:
    """Power of ``freq`` in ``samples`` (Goertzel), on the same scale as :func:`frame_power`."""
    coeff = 2 * math.cos(2 * math.pi * freq / SAMPLE_RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2 / len(samples)


def frame_power(samples: list[int]) -> float:
    return sum(x * x for x in samples)


def tone_share(pcm: bytes, freq: float, frame: int = 160) -> float:
    """Share of 20 ms frames in which ``freq`` carries over half the frame's energy (0 when silent)."""
    values = list(struct.unpack(f"<{len(pcm) // 2}h", pcm))
    frames = [values[i : i + frame] for i in range(0, len(values) - frame + 1, frame)]
    if not frames:
        return 0.0
    toned = 0
    for f in frames:
        energy = frame_power(f)
        if energy > 0 and goertzel_power(f, freq) / energy > 0.5:
            toned += 1
    return toned / len(frames)


def tone_ulaw(freq: float, seconds: float, amplitude: float = 0.5) -> bytes:
    """A pure tone as headerless mu-law (what SIPp's rtp_stream plays)."""
    n = int(seconds * SAMPLE_RATE)
    pcm = struct.pack(
        f"<{n}h", *(int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)) for i in range(n))
    )
    return pcm_to_ulaw(pcm)


# G.711 mu-law as in ITU-T G.711 (and as audioop did it): bias 0x84, 8 segments, every bit inverted.
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # largest magnitude in the 14-bit domain the encoder works in
_ULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _ulaw_decode(code: int) -> int:
    u = ~code & 0xFF
    magnitude = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u >> 4) & 0x07)
    return _ULAW_BIAS - magnitude if u & 0x80 else magnitude - _ULAW_BIAS


def _ulaw_encode(sample14: int) -> int:
    """One sample of the 14-bit domain (a 16-bit sample shifted right by 2) to its mu-law byte."""
    mask = 0x7F if sample14 < 0 else 0xFF
    magnitude = min(abs(sample14), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = next((i for i, end in enumerate(_ULAW_SEGMENT_ENDS) if magnitude <= end), None)
    if segment is None:  # beyond the last segment: the loudest code
        return 0x7F ^ mask
    return ((segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)) ^ mask


# Lookup tables, so converting seconds of audio is one table look-up per sample.
_ULAW_TO_PCM = tuple(struct.pack("<h", _ulaw_decode(code)) for code in range(256))
_PCM14_TO_ULAW = bytes(_ulaw_encode(s) for s in range(-(1 << 13), 1 << 13))


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """Mu-law bytes (RTP payload type 0) to 16-bit little-endian linear PCM."""
    return b"".join(_ULAW_TO_PCM[code] for code in ulaw)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """16-bit little-endian linear PCM to mu-law bytes."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm)
    return bytes(_PCM14_TO_ULAW[(s >> 2) + (1 << 13)] for s in samples)


def rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian PCM: how loud it is (0 for silence or no audio)."""
    n = len(pcm) // 2
    if n == 0:
        return 0.0
    return math.sqrt(sum(s * s for s in struct.unpack(f"<{n}h", pcm)) / n)
