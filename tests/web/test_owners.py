"""Owner names in the console (#13, item 1): the manager maps a file's 负责人 to an agent, the import
reports names nobody goes by, and the agent sees the leads imported under their name on their desk."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from dialer.domain.access.policy import Role
from dialer.leads.sheets import write_sheet
from tests.web.conftest import USERS, Login
from tests.web.test_import import _upload

HEADERS = ["姓名", "手机", "线索来源", "负责人"]


async def _due_names(client: TestClient, agent: Login) -> list[str]:
    resp = await client.get("/api/leads/due?scope=all", headers=agent.headers())
    assert resp.status == 200
    return sorted(lead["name"] for lead in (await resp.json())["leads"])


async def test_an_agent_sees_the_leads_imported_under_their_name(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    manager, agent = logins[Role.SALES_MANAGER], logins[Role.AGENT]
    path = tmp_path / "hq.csv"
    write_sheet(path, HEADERS, [["周八", "13500135000", "hq", "张伟"], ["吴九", "13500135001", "hq", "小明"]])
    first = await client.post("/import", data=_upload(path, manager.csrf), headers=manager.headers(csrf=False))
    unknown = (await first.text()).split('id="import-unknown-owners"')[1].split("</table>")[0]
    assert "<td>2</td><td>张伟</td>" in unknown and "<td>3</td><td>小明</td>" in unknown
    assert "周八" not in await _due_names(client, agent)

    # The manager names 张伟 as the agent zhang on the owner names page (a form, as a browser posts it).
    page = await client.get("/manage/owners", headers=manager.headers())
    assert page.status == 200 and "<td>张伟</td><td>1</td>" not in await page.text()  # not on leads: not kept
    form = {"csrf_token": manager.csrf, "op": "add", "alias": "张伟", "user": USERS[Role.AGENT][1]}
    added = await client.post("/manage/owners", data=form, headers=manager.headers(csrf=False), allow_redirects=False)
    assert added.status == 303
    shown = await (await client.get(added.headers["Location"], headers=manager.headers())).text()
    assert 'id="owners-notice"' in shown and "<td>张伟</td><td>zhang</td><td>agent1</td>" in shown

    again = await client.post("/import", data=_upload(path, manager.csrf), headers=manager.headers(csrf=False))
    text = await again.text()
    assert 'id="import-summary"' in text and "<td>张伟</td>" not in text.split('id="import-summary"')[1]
    assert "周八" in await _due_names(client, agent)


async def test_the_owner_api_adds_lists_refuses_and_removes(client: TestClient, logins: dict[Role, Login]) -> None:
    manager = logins[Role.SUPERVISOR]
    bad = await client.post("/api/owners/aliases", json={"alias": "王丽", "user": "li"}, headers=manager.headers())
    assert bad.status == 400 and "user" in (await bad.json())["fields"]
    missing = await client.post("/api/owners/aliases", json={"user": "zhang"}, headers=manager.headers())
    assert missing.status == 400 and "alias" in (await missing.json())["fields"]
    ok = await client.post("/api/owners/aliases", json={"alias": " 王丽 ", "user": "agent1"}, headers=manager.headers())
    assert ok.status == 200 and await ok.json() == {"alias": "王丽", "leads_moved": 0}
    listed = await (await client.get("/api/owners", headers=manager.headers())).json()
    assert listed == {"aliases": [{"alias": "王丽", "user": "zhang", "agent": "agent1"}], "unknown": []}
    gone = await client.post("/api/owners/aliases/remove", json={"alias": "王丽"}, headers=manager.headers())
    assert gone.status == 200
    again = await client.post("/api/owners/aliases/remove", json={"alias": "王丽"}, headers=manager.headers())
    assert again.status == 400 and "alias" in (await again.json())["fields"]


async def test_an_unknown_default_owner_is_named_next_to_its_field(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    manager = logins[Role.SALES_MANAGER]
    path = tmp_path / "hq.csv"
    write_sheet(path, ["姓名", "手机"], [["周八", "13500135000"]])
    resp = await client.post(
        "/import", data=_upload(path, manager.csrf, source="hq", owner="小明"), headers=manager.headers(csrf=False)
    )
    assert resp.status == 400 and 'id="error-owner"' in await resp.text()
