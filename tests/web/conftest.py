"""Fixtures for the console tests: a fresh store with leads, a recording and one user per role,
the console app on pytest-aiohttp's test server, and logged-in sessions to call it with."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App, open_store
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.auth.passwords import ScryptCost
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.leads.model import LeadSource
from dialer.leads.sheets import write_sheet
from dialer.settings import RecordingSettings, Settings, StoreSettings, WebSettings
from dialer.store.recordings import NewRecording, RecordingStore
from dialer.web.app import create_app
from dialer.web.keys import AUTH

ROOT = Path(__file__).resolve().parents[2]
# 2026-11-29 09:00 in Asia/Shanghai.
START = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
# Tests hash with a tiny scrypt cost: the format and the checks are the same, the CPU is not.
CHEAP = ScryptCost(log2_n=4, r=8, p=1)
PASSWORD = "correct horse battery"
# One login per role; the agent's work is filed under "agent1".
USERS = {
    Role.AGENT: ("zhang", "agent1"),
    Role.SUPERVISOR: ("li", None),
    Role.QA: ("wang", None),
    Role.SALES_MANAGER: ("zhao", None),
    Role.ADMIN: ("root", None),
}
# A second agent (login, identity): owns the seed's other lead; no role's login of the walk.
COLLEAGUE = ("wu", "agent2")
AUDIO = bytes(range(256)) * 40  # 10240 bytes of "audio": every byte value, so ranges are checkable


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        base_dir=str(ROOT),
        store=StoreSettings(path=str(tmp_path / "store.sqlite3")),
        recording=RecordingSettings(dir=str(tmp_path / "recordings")),
        web=WebSettings(
            cookie_secure=False,
            wallboard_interval_ms=50,
            login_free_failures=2,
            login_name_free_failures=4,
            login_base_delay_s=4.0,
            login_max_delay_s=60.0,
            login_window_s=600.0,
        ),
    )


@dataclass(frozen=True, slots=True)
class Fixtures:
    """What the store holds at the start of every console test."""

    own_lead: int  # owned by agent1
    other_lead: int  # owned by agent2
    own_recording: int  # agent1's call
    other_recording: int  # agent2's call


@pytest.fixture
async def dialer_app(settings: Settings, clock: VirtualClock, tmp_path: Path) -> AsyncIterator[App]:
    async with open_store(settings, clock, password_cost=CHEAP) as app:
        yield app


@pytest.fixture
async def data(dialer_app: App, settings: Settings, clock: VirtualClock, tmp_path: Path) -> Fixtures:
    # The owners first: a lead file's 负责人 is filed under an agent who goes by the name, or under nobody.
    auth = dialer_app.auth
    for name, agent in (USERS[Role.AGENT], COLLEAGUE):
        await auth.add_user(name, Role.AGENT.value, PASSWORD, agent=agent)
    path = tmp_path / "seed.csv"
    write_sheet(path, ["姓名", "手机", "负责人", "意向车型"],
                [["张三", "13800138000", "agent1", "轿车A"], ["李四", "13900139000", "agent2", "SUV B"]])  # fmt: skip
    report = await dialer_app.leads.importer.import_file(path, actor="test", source=LeadSource.HQ)
    assert report.created == 2
    own = await dialer_app.leads.store.find_by_phone("+8613800138000")
    other = await dialer_app.leads.store.find_by_phone("+8613900139000")
    assert own is not None and other is not None
    store = RecordingStore(dialer_app.db)
    root = dialer_app.recordings.root
    ids = []
    for call_id, agent in (("call-own", "agent1"), ("call-other", "agent2")):
        relative = f"2026/11/29/{call_id}.wav"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(AUDIO)
        await dialer_app.attempts.create(call_id=call_id, direction=Direction.OUTBOUND, number="+8613800138000",
                                         created_at=clock.now(), agent=agent)  # fmt: skip
        await dialer_app.attempts.finish(call_id, outcome=Outcome.ANSWERED, ended_at=clock.now())
        rec = await store.add(
            NewRecording(call_id=call_id, lead_id=None, campaign_id=None, agent=agent, direction=Direction.OUTBOUND,
                         path=relative, started_at=clock.now(), duration_s=1.0, size_bytes=len(AUDIO),
                         sha256=hashlib.sha256(AUDIO).hexdigest()),
            at=clock.now(), actor="test",
        )  # fmt: skip
        ids.append(rec.id)
    return Fixtures(own.id, other.id, ids[0], ids[1])


@pytest.fixture
async def client(dialer_app: App, data: Fixtures, aiohttp_client: Callable[..., Awaitable[TestClient]],
                 settings: Settings, clock: VirtualClock) -> TestClient:  # fmt: skip
    # dialer_app comes first so it is closed after the test server (fixtures tear down in reverse).
    app = create_app(settings, dialer=dialer_app, clock=clock)
    test_client = await aiohttp_client(app)
    auth = test_client.app[AUTH]
    for role, (name, agent) in USERS.items():
        if role is not Role.AGENT:  # the agent was added with the seed's leads (data)
            await auth.add_user(name, role.value, PASSWORD, agent=agent)
    return test_client


@dataclass(frozen=True, slots=True)
class Login:
    """A logged-in session, as headers to send with a request (no shared cookie jar between roles)."""

    role: Role
    token: str
    csrf: str

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        headers = {"Cookie": f"dcc_session={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers


@pytest.fixture
async def logins(client: TestClient) -> dict[Role, Login]:
    """A session for every role, opened through the auth service (the login form has its own tests)."""
    auth = client.app[AUTH]
    out = {}
    for role, (name, _agent) in USERS.items():
        new = await auth.login(name, PASSWORD, "127.0.0.1")
        out[role] = Login(role, new.token, new.csrf)
    return out
