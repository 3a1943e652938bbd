"""SMS fixtures on the suite's clock and store (tests/conftest.py): base customers, a real SMSC on loopback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.access.policy import Role
from dialer.domain.leads.model import LeadSource
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings, SmsSettings
from dialer.sms.factory import build_service
from dialer.sms.service import SmsService
from dialer.sms.simulator import SimScript, SmscSimulator
from dialer.sms.smpp import SmppDriver
from dialer.store.database import Database
from dialer.store.users import UserStore
from tests.conftest import REPO, free_port


def mobile(i: int) -> str:
    """The i-th test customer's mobile number (national form, as a dealer's file has it)."""
    return f"1380013{i:04d}"


def e164(i: int) -> str:
    return f"+86{mobile(i)}"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(port: int) -> Settings:
    return Settings(
        base_dir=str(REPO),
        sms=SmsSettings(
            smpp_port=port,
            reconnect_min_s=0.05,
            reconnect_max_s=0.3,
            idle_poll_s=0.05,
            submit_timeout_s=10.0,
            keepalive_s=1.0,
            batch_size=100,
        ),
    )


@pytest.fixture
def service(db: Database, settings: Settings, clock: VirtualClock) -> SmsService:
    """A service without a driver: queueing, replies and waves, no sending."""
    return build_service(db, settings, clock)


ImportCustomers = Callable[..., Awaitable[None]]
# The consultant who owns the test customers: an agent whose login and identity are 王丽, with her own mobile.
CONSULTANT, CONSULTANT_MOBILE = "王丽", "+8613900139000"


@pytest.fixture
def import_customers(db: Database, settings: Settings, clock: VirtualClock, tmp_path: Path) -> ImportCustomers:
    """Import ``n`` base customers (numbers :func:`mobile` first..first+n-1), by default driving a 科鲁兹 bought in 2019,
    owned by the agent :data:`CONSULTANT`."""

    async def run(
        n: int, *, first: int = 0, car: str = "科鲁兹", bought: str = "2019-05-01", owner: str = "王丽"
    ) -> None:
        users = UserStore(db)
        if await users.by_name(CONSULTANT, MAIN_DEALER_ID) is None:
            await users.add(name=CONSULTANT, role=Role.AGENT, agent=CONSULTANT, password_hash="unused", at=clock.now(),
                            mobile=CONSULTANT_MOBILE)  # fmt: skip
        path = tmp_path / f"base_{first}_{n}.csv"
        rows = [[f"客户{i}", mobile(i), "基盘客户", car, bought, owner] for i in range(first, first + n)]
        write_sheet(path, ["姓名", "手机", "线索来源", "现有车型", "购车日期", "负责人"], rows)
        report = await LeadService(db, settings, clock).importer.import_file(
            path, actor="test", source=LeadSource.BASE_CUSTOMER
        )
        assert report is not None

    return run


@pytest.fixture
async def smsc(tmp_path: Path, port: int) -> AsyncIterator[Callable[[SimScript], Awaitable[SmscSimulator]]]:
    """Start the in-process SMSC simulator with a script; stopped after the test."""
    started: list[SmscSimulator] = []

    async def start(script: SimScript) -> SmscSimulator:
        sim = SmscSimulator("127.0.0.1", port, tmp_path / "smsc.jsonl", script)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
def sending(db: Database, settings: Settings, clock: VirtualClock) -> SmsService:
    """A service with the real SMPP driver pointed at the test SMSC's port."""
    return build_service(db, settings, clock, SmppDriver(settings.sms))


async def spawn_smsc(port: int, ledger: Path) -> asyncio.subprocess.Process:
    """The SMSC as its own process, so a test can kill it like a crash."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dialer.sms.simulator",
        "--port",
        str(port),
        "--ledger",
        str(ledger),
        stdout=asyncio.subprocess.PIPE,
        cwd=str(REPO),
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.decode().strip() == f"READY {port}", line
    return proc


async def until(
    check: Callable[[], Awaitable[bool]], limit_s: float = 60.0, state: Callable[[], Awaitable[object]] | None = None
) -> None:
    """Poll ``check`` until it holds; a generous limit only keeps a broken run from hanging.

    ``state`` describes what was seen when the limit is hit, so a failure says where it stuck.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not await check():
        if loop.time() > deadline:
            seen = await state() if state is not None else None
            raise AssertionError(f"condition {check.__name__} not reached; state: {seen}")
        await asyncio.sleep(0.05)
