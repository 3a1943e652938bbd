"""The caller ID a campaign sets is the one the carrier receives, on the real PBX.

The customer here is the lab's SIPp customer run with ``-trace_logs``: ``customers.xml`` logs the
From and P-Asserted-Identity of every INVITE the carrier trunk sends it. A campaign's
``caller_id`` (``config/campaigns/hq.toml``, loaded and checked as the runner loads it) and the
``[pbx] caller_id`` fallback are dialled through the App's call service, as a campaign dials:

- without a DID on the trunk the From user is the caller ID, and no PAI is sent;
- with a DID (``[trunk] did`` at a dealer, ``[lab] did`` here) the From user is the DID the carrier
  knows the dealer by, and the P-Asserted-Identity carries the caller ID.

A lab of our own (ports shifted by :data:`OFFSET`), started without customers so the traced one can
take the carrier port.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.app import open_app
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.definition import load_definition
from dialer.lab.lab import Lab
from dialer.lab.layout import LAB_HOST
from dialer.phone import normalize
from dialer.settings import Settings
from tests.conftest import REPO, settings_beside

pytestmark = pytest.mark.asterisk

# Ports of this test's lab: the session lab's plus this (SIP 17760, AMI 17738, RTP 57000-57999).
OFFSET = 2700
BUSY = "13800000021"  # asterisk/sipp/customers.csv: answers 486 at once; the INVITE is all we need
FALLBACK = "01088880000"  # [pbx] caller_id: what a call without a campaign number shows
DID = "075512345678"
# Generous limits that only keep a broken run from hanging; nothing here measures speed.
SIPP_LIMIT_S = 60.0
_LOGGED = re.compile(r"INVITE (\S+) From:(.*?) P-Asserted-Identity:(.*)$")
_USER = re.compile(r"<sip:([^@>]+)@")


@pytest.fixture(scope="module", params=["", DID], ids=["no-did", "did"])
def caller_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = settings_beside(tmp_path_factory.mktemp("caller-id-lab"), OFFSET)
    settings = dataclasses.replace(
        base,
        lab=dataclasses.replace(base.lab, did=request.param),
        pbx=dataclasses.replace(base.pbx, caller_id=FALLBACK, ring_timeout_s=6.0),
    )
    lab = Lab(settings)
    lab.up(customers=False, agents=False)
    try:
        yield settings
    finally:
        lab.down()


def presented(log: str) -> list[tuple[str, str, str]]:
    """(dialled number, From user, PAI user or "") of each INVITE the traced customer logged."""
    found = []
    for line in log.splitlines():
        m = _LOGGED.search(line)
        if m:
            from_user, pai = _USER.search(m.group(2)), _USER.search(m.group(3))
            assert from_user is not None, line
            found.append((m.group(1), from_user.group(1), pai.group(1) if pai else ""))
    return found


async def test_the_carrier_receives_the_campaign_s_caller_id(caller_lab: Settings, tmp_path: Path) -> None:
    settings = caller_lab
    campaign = load_definition(REPO / "config" / "campaigns" / "hq.toml", settings)
    shown = normalize(campaign.caller_id, settings.dealer.region)
    assert shown.e164 == "+861088886666"  # what the sample campaign says, checked as the runner checks it
    port = settings.lab.carrier_port
    log_file = tmp_path / "customer.log"
    lab = Lab(settings)
    customer = await asyncio.create_subprocess_exec(
        "sipp", "-sf", "customers.xml", "-i", LAB_HOST, "-p", str(port), "-cp", str(port + 1),
        "-inf", "customers.csv", "-infindex", "customers.csv", "0", "-m", "2", "-nostdin",
        "-trace_logs", "-log_file", str(log_file), "-timeout", f"{SIPP_LIMIT_S:.0f}s",
        cwd=lab.layout.dir("sipp"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with open_app(settings) as app:
            assert app.calls is not None
            number = normalize(BUSY, settings.dealer.region)
            with_campaign = await app.calls.dial(number, agent=None, caller_id=shown)
            without = await app.calls.dial(number, agent=None)
        assert (with_campaign.outcome, without.outcome) == (Outcome.BUSY, Outcome.BUSY)
        assert await asyncio.wait_for(customer.wait(), SIPP_LIMIT_S + 10) == 0
    finally:
        if customer.returncode is None:
            customer.kill()
            await customer.wait()

    calls = presented(log_file.read_text(encoding="utf-8"))
    if settings.lab.did:
        assert calls == [(BUSY, DID, "01088886666"), (BUSY, DID, FALLBACK)]
    else:
        assert calls == [(BUSY, "01088886666", ""), (BUSY, FALLBACK, "")]
