"""The API document covers exactly the /api routes; /metrics exports the call counters; reports render."""

from __future__ import annotations

import asyncio
from io import BytesIO

import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook
from structlog.testing import capture_logs

from dialer.domain.access.policy import Role
from dialer.store.connection import Params, Row
from dialer.store.errors import StoreError
from dialer.store.sqlite import COMMITS_PER_CHECKPOINT, SqliteConnection
from dialer.web.keys import DIALER, ROUTES
from dialer.web.openapi import _openapi_path
from tests.web.conftest import Login


async def test_openapi_lists_every_api_route_and_nothing_else(client: TestClient, logins: dict[Role, Login]) -> None:
    resp = await client.get("/api/openapi.json", headers=logins[Role.AGENT].headers())
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    routed = {
        (r.method, _openapi_path(r.resource.canonical))  # type: ignore[union-attr]
        for r in client.app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/")
    }
    assert documented == routed
    assert len(routed) >= 12
    assert doc["paths"]["/api/leads/{lead_id}/disposition"]["post"]["parameters"][0]["name"] == "lead_id"
    assert len(client.app[ROUTES]) == len(list(client.app.router.routes()))
    # A body of known fields is described field by field; all optional, so the body is too.
    visit = doc["paths"]["/api/leads/{lead_id}/visit"]["post"]["requestBody"]
    schema = visit["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"at", "test_drive", "note"} and not visit["required"]
    assert schema["properties"]["test_drive"]["type"] == "boolean"
    # The campaigns' lifecycle is one route whose command is one of the person's commands.
    command = doc["paths"]["/api/campaigns/{campaign_id}/{command}"]["post"]["parameters"]
    assert [(p["name"], p["schema"]) for p in command] == [
        ("campaign_id", {"type": "integer"}),
        ("command", {"type": "string", "enum": ["start", "pause", "resume", "stop"]}),
    ]
    create = doc["paths"]["/api/campaigns"]["post"]["requestBody"]
    assert create["required"] and create["content"]["application/json"]["schema"]["required"] == ["name", "kind"]
    assert {"get"} == set(doc["paths"]["/api/campaigns/count"])


async def test_metrics_export_calls_by_outcome_and_lines(client: TestClient) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'dialer_calls_total{outcome="answered"} 2.0' in text
    assert 'dialer_lines_in_use{direction="outbound"} 0.0' in text
    assert 'dialer_lines{direction="outbound"} 8.0' in text
    assert "dialer_abandon_rate" in text


async def test_metrics_count_background_task_failures(client: TestClient) -> None:
    assert "dialer_background_failures_total{" not in await (await client.get("/metrics")).text()
    health = client.app[DIALER].health
    health.failed("ami-event-router")
    health.failed("ami-event-router")
    health.failed("sms-listen")
    text = await (await client.get("/metrics")).text()
    assert 'dialer_background_failures_total{task="ami-event-router"} 2.0' in text
    assert 'dialer_background_failures_total{task="sms-listen"} 1.0' in text


@pytest.mark.timeout(30)
async def test_the_stores_checkpointer_is_supervised_its_crash_logged_counted_and_restarted(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = client.app[DIALER].db
    assert db._checkpointer is not None  # the console's store is SQLite here
    checkpointer_conn, real = db._checkpointer._conn, SqliteConnection.fetchone
    tried: list[str] = []
    another_try = asyncio.Event()

    async def flaky(self: SqliteConnection, sql: str, params: Params = ()) -> Row | None:
        if self is checkpointer_conn:
            tried.append(sql)
            another_try.set()
            if len(tried) == 1:
                raise RuntimeError("a bug in the checkpoint loop")  # the loop dies of it
            if len(tried) == 2:
                raise StoreError("database is locked")  # one checkpoint fails, the loop goes on
        return await real(self, sql, params)

    monkeypatch.setattr(SqliteConnection, "fetchone", flaky)
    with capture_logs() as logs:
        for tries in (1, 2, 3):
            for _ in range(COMMITS_PER_CHECKPOINT):
                async with db.write() as tx:
                    await tx.execute("SELECT 1")
            async with asyncio.timeout(10):  # a restart waits RESTART_FIRST_S of real time
                while len(tried) < tries:
                    another_try.clear()
                    await another_try.wait()
    assert len(tried) == 3
    [crash] = [e for e in logs if e["event"] == "task.crashed"]
    assert crash["task"] == "store-checkpoint" and crash["exc_info"]
    assert [e["event"] for e in logs if e["event"].startswith("store.checkpoint")] == ["store.checkpoint_failed"]
    assert client.app[DIALER].health.failures() == {"store-checkpoint": 2}
    assert (
        'dialer_background_failures_total{task="store-checkpoint"} 2.0' in await (await client.get("/metrics")).text()
    )


async def test_reports_page_charts_and_xlsx(client: TestClient, logins: dict[Role, Login]) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    page = await client.get("/reports?month=2026-11", headers=headers)
    text = await page.text()
    for section in (
        "report-kpi",
        "report-agents",
        "report-sources",
        "report-defeat",
        "report-qa",
        "report-funnel",
        "report-targets",
    ):
        assert f'id="{section}"' in text, section
    assert 'id="chart-sources"' in text and "<rect" in text
    xlsx = await client.get("/reports/export.xlsx?month=2026-11", headers=headers)
    book = load_workbook(BytesIO(await xlsx.read()))
    assert len(book.sheetnames) == 7
    sources = book.worksheets[2]
    rows = list(sources.iter_rows(values_only=True))
    assert rows[0][0] == "来源" and ("总部下发", 2) == rows[1][:2]
    bad = await client.get("/api/kpi?month=2026-13", headers=headers)
    assert bad.status == 400 and "month" in (await bad.json())["fields"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/listen-ins?days=739949", "days"),  # found by tests/fuzz/test_web_api.py: the date overflowed
        ("/api/recordings?until=9999-12-31", "until"),
        ("/api/reports?month=0001-01", "month"),
        ("/api/leads?page=" + "9" * 30, "page"),
        ("/api/leads/9223372036854775808", "lead_id"),  # one past the store's 64-bit integers
    ],
)
async def test_numbers_past_the_calendar_or_the_database_are_refused_by_name(
    client: TestClient, logins: dict[Role, Login], url: str, field: str
) -> None:
    resp = await client.get(url, headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 400, await resp.text()
    assert field in (await resp.json())["fields"]
