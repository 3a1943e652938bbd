"""A real softphone as the agent: baresip registers with the lab's credentials and answers the dialer's call.

The SIPp phones prove scale; this proves the product against a SIP stack it did not script: baresip
(Debian's ``baresip-core``) takes ``agent1``'s account from the lab, registers, auto-answers the
call the dialer connects to it and plays a tone from a WAV file. The tone must be in the call's
recording, so the audio path phone -> Asterisk -> MixMonitor is checked end to end; the same call
with the softphone playing silence shows that the measure can tell.

The lab is a private one (ports shifted by :data:`OFFSET`) started without the SIPp agents, so
their accounts are free for the softphone. A missing ``baresip`` skips here and fails in CI
(tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.app import open_app
from dialer.domain.calls.outcome import Outcome
from dialer.lab.lab import Lab
from dialer.lab.layout import Party
from dialer.phone import normalize
from dialer.settings import CallSettings, Settings, StoreSettings
from tests.conftest import free_port
from tests.inbound.labkit import SAMPLE_RATE, private_settings, rms, tone_share

pytestmark = pytest.mark.asterisk

# Ports of this test's lab: the session lab's plus this (SIP 17260, AMI 17238, RTP 52000-52999).
OFFSET = 2200
AGENT = "agent1"
# asterisk/sipp/customers.csv: answers after 1 s, talks 6 s.
CUSTOMER = "13800000001"
# The agent's voice: a tone no lab customer sends (their audio is asterisk/sipp/audio/customer.ulaw).
TONE_HZ = 1100.0
# RMS (16-bit scale) above which a recording holds someone talking rather than silence.
SPEECH_RMS = 200
# Share of the recording's 20 ms frames the tone must dominate: the agent talks throughout, the
# customer's speech and the first moments before media flows take the rest.
TONE_SHARE_MIN = 0.3
REGISTER_TIMEOUT_S = 15.0


def write_wav(path: Path, freq: float | None, seconds: float = 30.0) -> Path:
    """A mono 16-bit WAV at 8 kHz: a tone at ``freq``, or silence with ``None``."""
    n = int(seconds * SAMPLE_RATE)
    amplitude = 0 if freq is None else 0.4 * 32767
    step = 0.0 if freq is None else 2 * math.pi * freq / SAMPLE_RATE
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(struct.pack(f"<{n}h", *(int(amplitude * math.sin(step * i)) for i in range(n))))
    return path


def baresip_config(folder: Path, *, sip: str, username: str, password: str, wav: Path, lab: Lab) -> Path:
    """A headless baresip 1.0 configuration: no sound card, the WAV as microphone, auto-answer."""
    folder.mkdir(parents=True, exist_ok=True)
    rtp = lab.layout.party_rtp[Party.AGENTS]  # the SIPp agents' media ports: free, they are not running
    (folder / "accounts").write_text(
        f"<sip:{username}@{sip};transport=udp>;auth_pass={password};answermode=auto;regint=60;ptime=20;"
        "audio_codecs=PCMU\n",
        encoding="utf-8",
    )
    (folder / "config").write_text(
        "\n".join(
            [
                f"sip_listen 127.0.0.1:{free_port()}",
                f"rtp_ports {rtp.start}-{rtp.end}",
                "net_interface 127.0.0.1",  # an address: baresip 1.0 finds no address on "lo" by name here
                f"audio_source aufile,{wav}",
                "audio_player aubridge,nobody",  # no sound card: a bridge device nobody reads is a null player
                "audio_alert aubridge,nobody",
                "ausrc_srate 8000",
                "ausrc_channels 1",
                "module_path /usr/lib/baresip/modules",
                "module g711.so",
                "module aufile.so",
                "module aubridge.so",
                "module_app account.so",
                "module_app menu.so",  # baresip 1.0 answers answermode=auto calls in the menu module
                "",
            ]
        ),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def softphone_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    """One lab for the module's calls; each test has its own softphone (``softphone``)."""
    if shutil.which("baresip") is None:
        pytest.skip("baresip is not installed (scripts/bootstrap.sh installs baresip-core)")
    base = private_settings(tmp_path_factory.mktemp("softphone-lab"), OFFSET)
    settings = dataclasses.replace(base, calls=CallSettings(amd=False))
    lab = Lab(settings)
    lab.up(agents=False)
    try:
        yield lab, settings
    finally:
        lab.down()


def wait_registered(lab: Lab, phone: subprocess.Popen[bytes]) -> None:
    # Real time bounds the wait on a real process.
    deadline = time.monotonic() + REGISTER_TIMEOUT_S
    while f"{AGENT}/sip:" not in lab.asterisk_cli("pjsip show contacts"):
        assert phone.poll() is None, f"baresip exited with status {phone.returncode}"
        assert time.monotonic() < deadline, f"baresip did not register {AGENT} in {REGISTER_TIMEOUT_S} s"
        time.sleep(0.2)


@pytest.fixture
def voice(request: pytest.FixtureRequest) -> float | None:
    """What the softphone's microphone hears: the tone, unless a test parametrizes ``None`` (silence)."""
    freq: float | None = getattr(request, "param", TONE_HZ)
    return freq


@pytest.fixture
def softphone(
    softphone_lab: tuple[Lab, Settings], voice: float | None, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    lab, settings = softphone_lab
    wav = write_wav(tmp_path / "agent.wav", voice)
    folder = baresip_config(
        tmp_path / "baresip",
        sip=f"127.0.0.1:{settings.lab.sip_port}",
        username=AGENT,
        password=lab.phones()[AGENT],
        wav=wav,
        lab=lab,
    )
    log = (tmp_path / "baresip.log").open("wb")
    phone = subprocess.Popen(["baresip", "-f", str(folder)], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_registered(lab, phone)
        yield phone
    finally:
        phone.terminate()
        try:
            phone.wait(5)
        except subprocess.TimeoutExpired:
            phone.kill()
            phone.wait()
        log.close()


def recorded_pcm(path: str) -> bytes:
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
        return w.readframes(w.getnframes())


async def answered_recording(lab_settings: Settings, tmp_path: Path) -> bytes:
    """Call the talking customer with the softphone as agent (a store of the test's own, on the module's lab);
    the call's recording as 16-bit PCM."""
    settings = dataclasses.replace(lab_settings, store=StoreSettings(path=str(tmp_path / "dialer.sqlite3")))
    log = tmp_path / "baresip.log"
    async with open_app(settings) as app:
        assert app.calls is not None
        attempt = await app.calls.dial(normalize(CUSTOMER), agent=AGENT)
    assert attempt.outcome is Outcome.ANSWERED, log.read_text(errors="replace")
    assert attempt.agent == AGENT and attempt.connected_at is not None
    assert attempt.recording and Path(attempt.recording).is_file()  # noqa: ASYNC240 - one stat of a local file
    pcm = recorded_pcm(attempt.recording)
    assert len(pcm) / 2 / SAMPLE_RATE > 2.0, "the recording is shorter than the talk"
    return pcm


async def test_a_softphone_agent_answers_and_its_audio_is_recorded(
    softphone_lab: tuple[Lab, Settings], softphone: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    pcm = await answered_recording(softphone_lab[1], tmp_path)
    share = tone_share(pcm, TONE_HZ)
    print(f"tone: {len(pcm) / 2 / SAMPLE_RATE:.1f} s, RMS {rms(pcm):.0f}, {TONE_HZ:.0f} Hz in {share:.0%} of frames")
    assert share > TONE_SHARE_MIN, f"the agent's tone is in only {share:.0%} of the recording's frames"


@pytest.mark.parametrize("voice", [None], indirect=True)
async def test_a_silent_softphone_leaves_no_tone_in_the_recording(
    softphone_lab: tuple[Lab, Settings], softphone: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # The measure can fail: the same call with the softphone playing silence records only the
    # customer talking (asterisk/sipp/audio/customer.ulaw), in which the tone is nowhere.
    pcm = await answered_recording(softphone_lab[1], tmp_path)
    share = tone_share(pcm, TONE_HZ)
    print(f"silent: {len(pcm) / 2 / SAMPLE_RATE:.1f} s, RMS {rms(pcm):.0f}, {TONE_HZ:.0f} Hz in {share:.0%} of frames")
    assert rms(pcm) > SPEECH_RMS, "the customer's speech is missing from the recording"
    assert share < 0.05
