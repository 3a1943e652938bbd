"""The lab's SIPp scenarios against a SIPp peer that re-INVITEs mid-call (Asterisk does so
after bridging when connected-line updates are on; a scenario that ignores it loses the call)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from dialer.lab.lab import Lab

pytestmark = pytest.mark.asterisk

UAC = Path(__file__).parent / "data" / "reinvite_uac.xml"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("scenario", "extra", "dialled"),
    [
        ("phone.xml", [], "agent9"),
        ("customers.xml", ["-inf", "customers.csv", "-infindex", "customers.csv", "0"], "13800000004"),
    ],
)
def test_a_reinvite_mid_call_is_answered_and_the_call_goes_on(
    lab: Lab, scenario: str, extra: list[str], dialled: str
) -> None:
    sipp_dir = lab.layout.dir("sipp")
    rtp = lab.layout.callers_rtp
    uas_port, uac_port = free_udp_port(), free_udp_port()
    uas = subprocess.Popen(
        ["sipp", "-sf", scenario, *extra, "-i", "127.0.0.1", "-p", str(uas_port), "-cp", str(free_udp_port()),
         "-mi", "127.0.0.1", "-mp", str(rtp.end - 100), "-nostdin"],
        cwd=sipp_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        uac = subprocess.run(
            ["sipp", f"127.0.0.1:{uas_port}", "-sf", str(UAC), "-s", dialled, "-i", "127.0.0.1", "-p", str(uac_port),
             "-cp", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(rtp.end - 50), "-m", "1", "-nostdin",
             "-timeout", "20s"],
            cwd=sipp_dir, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        uas.terminate()
        uas.wait(timeout=10)
    # SIPp exits 0 only when every call of the UAC ended as its scenario expects.
    assert uac.returncode == 0, uac.stdout[-2000:]
