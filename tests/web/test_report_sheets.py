"""The daily and weekly sheets in the console: pages, XLSX with formula-safe cells, JSON, bad input (#13 item 6)."""

from __future__ import annotations

from io import BytesIO

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.leads.model import LeadState
from dialer.web.keys import DIALER
from tests.web.conftest import Fixtures, Login

HOSTILE = '=HYPERLINK("http://evil","x")'


async def test_weekly_sheet_page_xlsx_and_json(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    app: App = client.app[DIALER]
    # The start of the suite's clock is Sunday 29 Nov 2026 (Shanghai): ISO week 48.
    await app.leads.store.change_state(
        data.own_lead, LeadState.DEFEATED, app.clock.now(), "test", defeat_reason=HOSTILE
    )
    headers = logins[Role.SALES_MANAGER].headers()
    page = await client.get("/reports/weekly?week=2026-W48", headers=headers)
    text = await page.text()
    assert page.status == 200 and 'id="report-week"' in text and 'id="report-defeat-reasons"' in text
    assert HOSTILE not in text and "=HYPERLINK(&#34;http://evil&#34;" in text  # escaped on the page
    xlsx = await client.get("/reports/weekly.xlsx?week=2026-W48", headers=headers)
    book = load_workbook(BytesIO(await xlsx.read()))
    reasons = list(book.worksheets[1].iter_rows(values_only=True))
    assert reasons[0] == ("战败原因", "数量", "占比")
    assert reasons[1] == ("'" + HOSTILE, 1, "100.0%")  # text, never a formula
    api = await (await client.get("/api/reports/weekly?week=2026-W48", headers=headers)).json()
    assert api["sheet"]["defeat_reasons"] == [{"reason": HOSTILE, "count": 1, "share": 1.0}]
    assert [t["id"] for t in api["tables"]] == ["week", "defeat-reasons"]
    # Without ?week=: the last full week, 2026-W47.
    assert (await (await client.get("/api/reports/weekly", headers=headers)).json())["sheet"]["week"] == "2026-W47"


async def test_daily_sheet_today_and_a_past_day(client: TestClient, logins: dict[Role, Login]) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    page = await (await client.get("/reports/daily", headers=headers)).text()
    assert 'id="report-yesterday"' in page and 'id="report-today"' in page and 'id="report-note"' not in page
    today = (await (await client.get("/api/reports/daily", headers=headers)).json())["sheet"]
    # The two seeded HQ leads (agent1's, agent2's), imported now: their first follow-up is due in 48 h.
    assert today["day"] == "2026-11-29" and today["today"]["total"] == {
        "agent": None,
        "due": 0,
        "overdue": 0,
        "visits_expected": 0,
    }
    past = await (await client.get("/reports/daily?date=2026-11-20", headers=headers)).text()
    assert 'id="report-today"' not in past and 'id="report-note"' in past
    xlsx = await client.get("/reports/daily.xlsx?date=2026-11-29", headers=headers)
    assert load_workbook(BytesIO(await xlsx.read())).sheetnames == [
        "昨日（2026-11-28）各坐席工作量",
        "今日（2026-11-29）待办",
    ]


async def test_bad_day_and_week_are_refused_by_name(client: TestClient, logins: dict[Role, Login]) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    for url, field in (
        ("/api/reports/daily?date=2026-13-01", "date"),
        ("/api/reports/daily?date=0001-01-01", "date"),
        ("/api/reports/weekly?week=2026-W54", "week"),
        ("/api/reports/weekly?week=W48", "week"),
    ):
        resp = await client.get(url, headers=headers)
        assert resp.status == 400, url
        assert field in (await resp.json())["fields"], url
    assert (await client.get("/reports/weekly.xlsx?week=W48", headers=headers)).status == 400
