"""``dialer doctor`` against a PBX that does not answer the login: one try, reported at once."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from dialer.cli.doctor import diagnose
from dialer.clock import VirtualClock
from dialer.settings import PbxSettings, Settings, StoreSettings, UiSettings
from tests.ami.fake_ami import FakeAmi

# Real time (the doctor opens the store, whose worker thread a virtual loop cannot wait for): far
# below the 60 s a first connect of the service would keep trying.
LIMIT_S = 20


async def test_the_doctor_does_not_wait_out_the_first_connect_retries(
    fake: FakeAmi, pbx: PbxSettings, tmp_path: Path, clock: VirtualClock
) -> None:
    fake.unanswered.add("login")
    settings = Settings(
        base_dir=str(tmp_path),
        store=StoreSettings(path=str(tmp_path / "d.sqlite3")),
        pbx=dataclasses.replace(pbx, action_timeout_s=0.2, first_connect_retry_s=60.0, reconcile_interval_s=60.0),
        ui=UiSettings(language="en"),
    )
    async with asyncio.timeout(LIMIT_S):
        checks = await diagnose(settings, clock)
    (ami,) = [c for c in checks if f"127.0.0.1:{fake.port}" in c.name]
    assert not ami.ok and "did not answer the login" in (ami.fix or "")
    assert fake.connections == 1
