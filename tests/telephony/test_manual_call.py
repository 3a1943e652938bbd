"""A manual call on the real PBX: the agent's phone rings first, then the customer's ([dcc-manual]).

The lab's SIPp agent phone answers at once; the SIPp customer behaves as asterisk/sipp/customers.csv
says. A lab of our own (ports shifted by :data:`OFFSET`) so the dialplan is this worktree's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.app import open_app
from dialer.domain.calls.outcome import Outcome
from dialer.lab.lab import Lab
from dialer.phone import normalize
from dialer.settings import Settings
from tests.conftest import settings_beside

pytestmark = pytest.mark.asterisk

# Ports of this test's lab: the session lab's plus this (SIP 17860, AMI 17838, RTP 58000-58999).
OFFSET = 2800
ANSWERS = "13800000001"  # answers after 1 s, talks 6 s
BUSY = "13800000021"


@pytest.fixture(scope="module")
def manual_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    base = settings_beside(tmp_path_factory.mktemp("manual-lab"), OFFSET)
    settings = dataclasses.replace(base, pbx=dataclasses.replace(base.pbx, ring_timeout_s=6.0))
    lab = Lab(settings)
    lab.up()
    try:
        yield settings
    finally:
        lab.down()


def store_of(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, store=dataclasses.replace(settings.store, path=str(tmp_path / "d.sqlite3")))


async def test_the_agent_s_phone_rings_first_then_the_customer_s(manual_lab: Settings, tmp_path: Path) -> None:
    settings = store_of(manual_lab, tmp_path)
    async with open_app(settings) as app:
        assert app.calls is not None
        region = settings.dealer.region
        answered = await app.calls.dial(normalize(ANSWERS, region), agent="agent2", agent_first=True)
        busy = await app.calls.dial(normalize(BUSY, region), agent="agent2", agent_first=True)
        files = await app.recordings.current_files([answered])
    assert (answered.outcome, answered.agent) == (Outcome.ANSWERED, "agent2")
    # Connected as the customer answers: nobody waits on hold.
    assert answered.answered_at is not None and answered.connected_at is not None
    assert answered.connected_at >= answered.answered_at
    assert files[answered.call_id] is not None
    # The customer said no: the customer leg's cause, not the agent's, names the outcome.
    assert (busy.outcome, busy.agent, busy.hangup_cause) == (Outcome.BUSY, "agent2", 17)
