"""No toll fraud (#14 item 4): nothing reaches the carrier unless the dialer places the call.

SIPp plays an intruder on the PBX's own host (the ACL lets loopback in, so only identification and
authentication stand in the way): unauthenticated INVITEs to a customer's number claiming to be
nobody, an agent's phone, the carrier or the inbound trunk are refused with 401/403 and never make a
channel; a phone with its right password may dial only other phones, never a number or the carrier.
The customers' SIPp (the carrier) must see no call: no ``PJSIP/carrier`` channel appears.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dialer.lab.lab import Lab
from dialer.settings import Settings
from tests.conftest import free_port
from tests.lab.rawami import RawAmi

pytestmark = pytest.mark.asterisk

DATA = Path(__file__).parent / "data"
# A customer of customers.csv who answers: a call that got through would be answered and show.
CUSTOMER = "13800000001"


# SIPp's status when it could not bind a socket (a port another process took between free_port() and its bind).
SIPP_BIND_FAILED = 254


def sipp(lab: Lab, lab_settings: Settings, scenario: str, number: str, from_user: str, *extra: str) -> int:
    """SIPp's exit status for one call of ``scenario``; started again on fresh ports if it could not bind."""
    for _ in range(3):
        done = subprocess.run(
            [
                "sipp", f"127.0.0.1:{lab_settings.lab.sip_port}", "-sf", str(DATA / scenario), "-s", number,
                "-key", "from_user", from_user, "-i", "127.0.0.1", "-p", str(free_port()), "-cp", str(free_port()),
                "-mi", "127.0.0.1", "-mp", str(lab.layout.callers_rtp.start), "-m", "1", "-nostdin",
                "-timeout", "10s", "-timeout_error", *extra,
            ],
            cwd=lab.layout.dir("sipp"), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != SIPP_BIND_FAILED:
            return done.returncode
    raise AssertionError(f"sipp could not bind three times: {(done.stdout + done.stderr)[-500:]!r}")


def carrier_legs(ami: RawAmi, carrier: str) -> list[str]:
    return [
        e["Channel"]
        for e in ami.events
        if e.get("Event") == "Newchannel" and e.get("Channel", "").startswith(f"PJSIP/{carrier}-")
    ]


@pytest.mark.parametrize("claimed", ["intruder", "agent1", "supervisor", "carrier", "inbound-trunk"])
async def test_an_unauthenticated_invite_is_refused_and_makes_no_channel(
    lab: Lab, ami: RawAmi, lab_settings: Settings, claimed: str
) -> None:
    for number in (CUSTOMER, f"+86{CUSTOMER}", "0086" + CUSTOMER):
        assert sipp(lab, lab_settings, "intruder.xml", number, claimed) == 0, (claimed, number)
    await ami.action("Ping")
    assert [e for e in ami.events if e.get("Event") == "Newchannel"] == []


async def test_a_registered_phone_reaches_neither_a_number_nor_the_carrier(
    lab: Lab, ami: RawAmi, lab_settings: Settings
) -> None:
    password = lab.phones()["agent1"]
    carrier = lab_settings.pbx.carrier_endpoint
    for dialled in (CUSTOMER, f"+86{CUSTOMER}", carrier, "inbound-trunk"):
        code = sipp(lab, lab_settings, "phone-dials.xml", dialled, "agent1", "-au", "agent1", "-ap", password)
        assert code == 0, dialled
    await ami.action("Ping")
    assert carrier_legs(ami, carrier) == []


async def test_a_wrong_password_gets_no_further(lab: Lab, ami: RawAmi, lab_settings: Settings) -> None:
    code = sipp(
        lab, lab_settings, "phone-wrong-password.xml", CUSTOMER, "agent1", "-au", "agent1", "-ap", "wrong-password"
    )
    assert code == 0  # challenged again, never refused by the dialplan: the call never started
    await ami.action("Ping")
    assert [e for e in ami.events if e.get("Event") == "Newchannel"] == []


async def test_a_registered_phone_reaches_another_phone(lab: Lab, ami: RawAmi, lab_settings: Settings) -> None:
    password = lab.phones()["agent1"]
    code = sipp(lab, lab_settings, "phone-calls.xml", "agent2", "agent1", "-au", "agent1", "-ap", password)
    assert code == 0
    await ami.action("Ping")
    dialled = [e["DestChannel"] for e in ami.events if e.get("Event") == "DialBegin"]
    assert len(dialled) == 1 and dialled[0].startswith("PJSIP/agent2-")
    assert carrier_legs(ami, lab_settings.pbx.carrier_endpoint) == []
