"""Fixtures of the supervisor tests: a private lab whose supervisor phone plays a tone."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from dialer.lab import procs
from dialer.lab.lab import Lab
from dialer.lab.layout import Party
from dialer.settings import Settings
from tests.inbound.labkit import SCENARIOS, private_lab, tone_ulaw

# Ports shifted by this from the shared lab's (SIP 15660, AMI 15638, RTP 36000-36999): clear of it and of the inbound tests' lab.
LAB_OFFSET = 600
# The supervisor's voice: a pure tone no phone in the lab otherwise sends.
TONE_HZ = 1400.0


@pytest.fixture(scope="session")
def spy_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Settings]]:
    """The private lab, its supervisor party replaced by the same phone scenario playing TONE_HZ."""
    root = tmp_path_factory.mktemp("spy-lab")
    for lab, settings in private_lab(root, LAB_OFFSET):
        party = next(p for p in lab.status().processes if p.name == Party.SUPERVISOR.value)
        procs.stop(party.pid, party.program, 5.0)
        phone_dir = root / "tone-phone"
        (phone_dir / "audio").mkdir(parents=True)
        # phone.xml plays audio/phone.ulaw relative to its working folder: give it the tone under that name.
        (phone_dir / "audio" / "phone.ulaw").write_bytes(tone_ulaw(TONE_HZ, 10.0))
        port = settings.lab.supervisor_port
        phone = subprocess.Popen(
            ["sipp", "-sf", str(SCENARIOS / "phone.xml"), "-i", "127.0.0.1", "-p", str(port), "-cp", str(port + 1),
             "-mi", "127.0.0.1", "-mp", str(lab.layout.party_rtp[Party.SUPERVISOR].start), "-aa", "-nostdin"],
            cwd=phone_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield lab, settings
        finally:
            phone.terminate()
            phone.wait(timeout=10)
