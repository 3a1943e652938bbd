"""A store with the App's services, a lead and its calls, recordings and SMS to export, erase and expire."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dialer.app import App, open_store
from dialer.clock import VirtualClock
from dialer.domain.auth.passwords import ScryptCost
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.leads.model import LeadSource
from dialer.leads.sheets import write_sheet
from dialer.settings import PrivacySettings, RecordingSettings, Settings, StoreSettings
from dialer.store.recordings import NewRecording, RecordingStore

ROOT = Path(__file__).resolve().parents[2]
CHEAP = ScryptCost(log2_n=4, r=8, p=1)
NUMBER = "+8613800138000"
OTHER = "+8613900139000"
AUDIO = b"RIFF" + bytes(2000)


def make_settings(tmp_path: Path, store: str | Path, privacy: PrivacySettings | None = None) -> Settings:
    """Settings on ``store`` (the ``store_target`` fixture: a SQLite file or a PostgreSQL URL)."""
    return Settings(
        base_dir=str(ROOT),
        store=StoreSettings(url=store) if isinstance(store, str) else StoreSettings(path=str(store)),
        recording=RecordingSettings(dir=str(tmp_path / "recordings"), compress="none"),
        privacy=privacy or PrivacySettings(),
    )


@pytest.fixture
def settings(tmp_path: Path, store_target: str | Path) -> Settings:
    return make_settings(tmp_path, store_target)


@pytest.fixture
async def app(settings: Settings, clock: VirtualClock) -> AsyncIterator[App]:
    async with open_store(settings, clock, password_cost=CHEAP) as opened:
        yield opened


async def seed_leads(app: App, tmp_path: Path, *, consent: str = "") -> tuple[int, int]:
    """张三 (NUMBER) and 李四 (OTHER), imported; returns their lead ids."""
    path = tmp_path / "seed.csv"
    write_sheet(path, ["姓名", "手机", "负责人", "备注", "同意联系"],
                [["张三", NUMBER[3:], "agent1", "住在幸福路 8 号", consent], ["李四", OTHER[3:], "agent2", "", consent]])  # fmt: skip
    report = await app.leads.importer.import_file(path, actor="test", source=LeadSource.HQ)
    assert report.created == 2
    one, two = [await app.leads.store.find_by_phone(n) for n in (NUMBER, OTHER)]
    assert one is not None and two is not None
    return one.id, two.id


async def call(
    app: App, call_id: str, number: str, at: datetime, *, lead_id: int | None, direction: Direction = Direction.OUTBOUND
) -> int:
    """A finished, answered call of agent1 with a recording file; returns the recording's id."""
    await app.attempts.create(call_id=call_id, direction=direction, number=number, created_at=at, agent="agent1",
                              lead_id=lead_id)  # fmt: skip
    await app.attempts.finish(call_id, outcome=Outcome.ANSWERED, ended_at=at + timedelta(minutes=2))
    relative = f"{at:%Y/%m/%d}/{call_id}.wav"
    (app.recordings.root / relative).parent.mkdir(parents=True, exist_ok=True)
    (app.recordings.root / relative).write_bytes(AUDIO)
    rec = await RecordingStore(app.db).add(
        NewRecording(call_id=call_id, lead_id=lead_id, campaign_id=None, agent="agent1", direction=direction,
                     path=relative, started_at=at, duration_s=120.0, size_bytes=len(AUDIO),
                     sha256=hashlib.sha256(AUDIO).hexdigest()),
        at=at, actor="test",
    )  # fmt: skip
    return rec.id
