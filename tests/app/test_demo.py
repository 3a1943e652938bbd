"""``dialer demo --exit-when-done`` end to end, as a person runs it, on a lab of its own.

The config puts everything below tmp_path (the demo's folder, the lab, recordings) and shifts
every port by OFFSET, so it runs beside the session's lab. While the demo dials, the test logs
in to the printed console address with the printed supervisor password and reads the
wallboard; afterwards it checks what the demo left in its store, the SMSC's ledger and the
DOSS folder, and runs ``dialer kpi --month <this month> --json`` over the demo's store: the loop
closed in the showroom shows as a non-zero invite-to-store rate and deals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from dialer.app import open_store
from dialer.clock import SystemClock
from dialer.config import load
from dialer.domain.leads.model import LeadState
from dialer.domain.leads.records import LeadQuery
from dialer.settings import PbxSettings, SmsSettings, WebSettings
from dialer.sms.simulator import read_ledger
from tests.conftest import REPO, checkout_env, settings_beside, write_config

pytestmark = pytest.mark.asterisk

OFFSET = 1700
# Limits that only keep a broken run from hanging; nothing here measures speed.
DEMO_LIMIT_S = 420.0
# A call connected at least this long carries audio, so it has its recording (the early customer: below).
TALKED = timedelta(seconds=2)
_URL = re.compile(r"http://127\.0\.0\.1:\d+")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# The base customers of config/demo/leads.csv, and what config/demo/sms_replies.json makes them say.
BASE = [f"+861390000200{i}" for i in range(6)]
INTERESTED, OPTED_OUT = BASE[0], BASE[1]


def demo_config(tmp_path: Path) -> Path:
    """The session lab's layout shifted by OFFSET, every folder below tmp_path, answers in English."""
    lab = settings_beside(tmp_path, OFFSET).lab
    return write_config(
        tmp_path,
        lab={"dir": str(tmp_path / "lab"), "sip_port": lab.sip_port, "carrier_port": lab.carrier_port,
             "agents_port": lab.agents_port, "supervisor_port": lab.supervisor_port, "inbound_port": lab.inbound_port,
             "rtp_start": lab.rtp_start, "rtp_end": lab.rtp_end, "customers_file": str(REPO / lab.customers_file)},
        pbx={"ami_port": PbxSettings().ami_port + OFFSET},
        web={"port": WebSettings().port + OFFSET},
        sms={"smpp_port": SmsSettings().smpp_port + OFFSET},
        ui={"language": "en"},
    )  # fmt: skip


async def watch_console(url: str, password: str) -> int:
    """Log in as the demo's supervisor through the login form and read the wallboard API; its status."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/login") as page:
            assert page.status == 200
            token = _CSRF.search(await page.text())
            assert token is not None, "no CSRF field on the login page"
        form = {"csrf_token": token.group(1), "name": "supervisor", "password": password, "next": ""}
        async with http.post(f"{url}/login", data=form, allow_redirects=False) as answer:
            assert answer.status == 302, await answer.text()
        async with http.get(f"{url}/api/wallboard") as board:
            assert "agents" in await board.json()
            return board.status


@pytest.mark.timeout(DEMO_LIMIT_S + 60)
async def test_the_demo_runs_the_whole_system_and_its_console_answers_meanwhile(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    # The month the demo works in (it reports the visits before its clock moves on to the next morning).
    month = f"{SystemClock().now().astimezone(ZoneInfo(load(config, env={}).dealer.timezone)):%Y-%m}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer", "--config", str(config), "demo", "--exit-when-done", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, cwd=tmp_path,
        env=checkout_env(),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    console: asyncio.Task[int] | None = None
    stderr = asyncio.create_task(proc.stderr.read())
    timed_out = False
    try:
        async with asyncio.timeout(DEMO_LIMIT_S):
            password = ""
            while line := (await proc.stdout.readline()).decode():
                out.append(line)
                fields = line.split()
                if fields[:2] == ["supervisor", "supervisor"]:
                    password = fields[-1]
                if console is None and (url := _URL.search(line)):
                    assert password, "the console's address came before the users' passwords"
                    # The console answers while the campaigns have not even started.
                    console = asyncio.create_task(watch_console(url.group(0), password))
            await proc.wait()
    except TimeoutError:  # shown below with what the demo printed and logged, not as a bare timeout
        timed_out = True
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = "".join(out)
    demo = load(config, env={}).path("var/demo")
    log = (demo / "dialer.log").read_text(encoding="utf-8") if (demo / "dialer.log").exists() else ""
    assert not timed_out and proc.returncode == 0, (
        f"timed out after {DEMO_LIMIT_S:.0f} s: " * timed_out + text + (await stderr).decode()[-6000:] + log[-5000:]
    )
    assert console is not None, text
    assert await console == 200
    assert text.index("Web console: http") < text.index("campaign #1")

    settings = load(config, env={})
    stored = dataclasses.replace(settings, store=dataclasses.replace(settings.store, path=str(demo / "dialer.sqlite3")))
    async with open_store(stored) as app:
        attempts = await app.attempts.recent(limit=500)
        assert len(attempts) >= 24 + 4, "the new leads and the repurchase hand-over were dialled"
        assert all(a.outcome is not None for a in attempts), "every call has its outcome"
        connected = [a for a in attempts if a.connected_at is not None]
        assert connected, f"agents talked to customers: {[(a.outcome, a.detail) for a in attempts]}"
        # The lab's "early" customer hangs up about a second after answering: on a loaded PBX the agent's
        # phone can answer as the customer leaves, so the bridge carries no audio and MixMonitor leaves no
        # file. A call that stayed connected for a while must have its recording.
        talked = [a for a in connected if a.ended_at and a.connected_at and a.ended_at - a.connected_at >= TALKED]
        assert talked, f"agents talked to customers: {[(a.outcome, a.connected_at, a.ended_at) for a in connected]}"
        for a in talked:
            recording = await app.recording_store.get_by_call(a.call_id)
            assert recording is not None and recording.size_bytes > 0, (
                f"call {a.call_id} ({a.outcome}, connected {a.connected_at}, ended {a.ended_at}, "
                f"recording {a.recording}, detail {a.detail}) has its recording"
            )
        numbers = {a.number for a in attempts}
        assert INTERESTED in numbers and OPTED_OUT not in numbers, (
            "the interested customer was called, the opt-out never"
        )
        assert set(BASE) - {OPTED_OUT} <= numbers
        campaigns = await app.campaigns.all()
        assert [c.status.value for c in campaigns] == ["completed", "completed", "completed"]
        # The showroom: a test drive and a deal; a customer who did not come was called again and rebooked.
        assert (await app.leads.search(LeadQuery(state=LeadState.DEAL))).total >= 1, "a customer bought"
        now = app.clock.now()
        results = [
            e.record.result for e in await app.doss.outbox.between(now - timedelta(days=1), now + timedelta(days=7))
        ]
        assert "已到店（试乘试驾）" in results and "改约到店" in results, (
            "a test drive; a no-show called again, rebooked"
        )
    submits = [r for r in read_ledger(demo / "smsc.jsonl") if r["kind"] == "submit"]
    assert {r["to"] for r in submits} >= {n.lstrip("+") for n in BASE}, "the wave went through the SMSC"
    assert list((demo / "doss").glob("*.xlsx")), "today's DOSS import sheet was written"
    (tmp_path / "kpi").mkdir()
    kpi_config = write_config(tmp_path / "kpi", store={"path": str(demo / "dialer.sqlite3")})
    kpi = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer", "--config", str(kpi_config), "kpi", "--month", month, "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=checkout_env(),
    )  # fmt: skip
    kpi_out, kpi_err = await kpi.communicate()
    assert kpi.returncode == 0, kpi_err.decode()
    kpis = json.loads(kpi_out)
    assert kpis["invite_to_store_rate"]["numerator"] > 0, kpis
    assert kpis["deals"] > 0, kpis
