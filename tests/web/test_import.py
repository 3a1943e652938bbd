"""Lead import upload: the report's rejects name row, field and value; bad uploads name the field."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.leads.model import LeadState
from dialer.leads.sheets import write_sheet
from dialer.store.leads import LeadStore
from tests.web.conftest import Fixtures, Login


def _upload(path: Path, csrf: str | None = None, **fields: str) -> FormData:
    form = FormData()
    if csrf:
        form.add_field("csrf_token", csrf)
    for k, v in fields.items():
        form.add_field(k, v)
    form.add_field("file", path.read_bytes(), filename=path.name)
    return form


async def test_upload_shows_the_rejected_rows(client: TestClient, logins: dict[Role, Login], tmp_path: Path) -> None:
    manager = logins[Role.SALES_MANAGER]
    path = tmp_path / "展厅战败.xlsx"
    write_sheet(path, ["姓名", "手机", "负责人"], [["王五", "13700137000", "agent1"], ["赵六", "12345", "agent1"]])
    resp = await client.post(
        "/import", data=_upload(path, manager.csrf, source="defeated"), headers=manager.headers(csrf=False)
    )
    assert resp.status == 200
    text = await resp.text()
    assert 'id="import-summary"' in text
    rejects = text.split('id="import-rejects"')[1].split("</table>")[0]
    assert "<td>3</td><td>手机</td><td>12345</td>" in rejects  # row 3 (after the header), the phone column, its value


async def test_the_same_file_again_is_skipped_unless_forced(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    manager = logins[Role.SALES_MANAGER]
    path = tmp_path / "hq.csv"
    write_sheet(path, ["姓名", "手机"], [["周八", "13500135000"]])
    first = await client.post("/import", data=_upload(path, manager.csrf), headers=manager.headers(csrf=False))
    assert 'id="import-summary"' in await first.text()
    again = await client.post("/import", data=_upload(path, manager.csrf), headers=manager.headers(csrf=False))
    text = await again.text()
    assert 'id="import-skipped"' in text and 'id="import-summary"' not in text and "批次 #" in text
    forced = await client.post(
        "/import", data=_upload(path, manager.csrf, force="1"), headers=manager.headers(csrf=False)
    )
    text = await forced.text()
    assert 'id="import-summary"' in text and 'id="import-skipped"' not in text


async def test_api_import_returns_the_report(client: TestClient, logins: dict[Role, Login], tmp_path: Path) -> None:
    path = tmp_path / "web.csv"
    write_sheet(path, ["姓名", "手机"], [["孙七", "13600136000"]])
    resp = await client.post(
        "/api/leads/import", data=_upload(path, source="web"), headers=logins[Role.SUPERVISOR].headers()
    )
    assert resp.status == 200
    report = await resp.json()
    assert (report["created"], report["rejections"]) == (1, [])


async def test_bad_uploads_name_the_field(client: TestClient, logins: dict[Role, Login], tmp_path: Path) -> None:
    headers = logins[Role.SALES_MANAGER].headers()
    exe = tmp_path / "leads.exe"
    exe.write_bytes(b"MZ")
    resp = await client.post("/api/leads/import", data=_upload(exe), headers=headers)
    assert resp.status == 400 and list((await resp.json())["fields"]) == ["file"]
    csv = tmp_path / "x.csv"
    write_sheet(csv, ["姓名", "手机"], [["孙七", "13600136000"]])
    resp = await client.post("/api/leads/import", data=_upload(csv, source="martian"), headers=headers)
    assert resp.status == 400 and "martian" in (await resp.json())["fields"]["source"]


async def test_a_file_name_cannot_place_the_upload_elsewhere(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    csv = tmp_path / "ok.csv"
    write_sheet(csv, ["姓名", "手机"], [["周八", "13500135000"]])
    form = FormData()
    form.add_field("source", "web")
    form.add_field("file", csv.read_bytes(), filename="../../etc/evil.csv")
    resp = await client.post("/api/leads/import", data=form, headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 200
    report = await resp.json()
    assert report["created"] == 1
    assert "/" not in report["file"] and ".." not in report["file"]


async def test_a_doss_export_takes_its_visits_and_deals_into_the_leads_once(
    client: TestClient, dialer_app: App, clock: VirtualClock, logins: dict[Role, Login], data: Fixtures,
    tmp_path: Path,
) -> None:  # fmt: skip
    form = DispositionForm(Disposition.BOOKED_VISIT, visit_at=clock.now() + timedelta(hours=1))
    await dialer_app.doss.record_disposition(data.own_lead, None, Outcome.ANSWERED, form, "agent1")
    clock.advance(1800)
    manager = logins[Role.SALES_MANAGER]
    path = tmp_path / "doss-export.csv"
    write_sheet(path, ["手机", "线索状态", "到店时间", "试乘试驾"],
                [["13800138000", "已到店", "2026-11-29 09:20", "是"], ["13700137000", "已到店", "", ""]])  # fmt: skip
    page = await client.post(
        "/import/doss-states", data=_upload(path, manager.csrf), headers=manager.headers(csrf=False)
    )
    assert page.status == 200
    text = await page.text()
    assert "记录 1 条，无变化 0 条，其他状态 0 条（不导入），问题 1 条" in text
    assert "<td>3</td><td>phone</td><td>+8613700137000</td><td>no lead has this number</td>" in text
    lead = await dialer_app.leads.store.get(data.own_lead)
    assert lead.state is LeadState.VISITED
    again = await client.post("/api/doss/import-states", data=_upload(path), headers=manager.headers())
    assert again.status == 200
    body = await again.json()
    assert (body["recorded"], body["unchanged"], body["file"]) == ([], 1, "doss-export.csv")
    # Not for QA; a file without the state column is refused naming it.
    qa = await client.post("/api/doss/import-states", data=_upload(path), headers=logins[Role.QA].headers())
    assert qa.status == 403
    wrong = tmp_path / "wrong.csv"
    write_sheet(wrong, ["手机"], [["13800138000"]])
    refused = await client.post("/api/doss/import-states", data=_upload(wrong), headers=manager.headers())
    assert refused.status == 400 and "no state column" in (await refused.json())["fields"]["file"]


async def test_a_running_import_answers_how_far_it_got_under_its_forms_token(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = logins[Role.SALES_MANAGER]
    token = "0f8e3a52-6c1d-4b7e-9a10-2d4c6e8f0a1b"
    url = f"/api/leads/import/progress/{token}"
    path = tmp_path / "long.csv"
    write_sheet(path, ["姓名", "手机"], [[f"客户{i}", f"1380013{i:04d}"] for i in range(12)])
    # Hold the import at its write step, where every row has been read and reported.
    writing, release = asyncio.Event(), asyncio.Event()
    import_drafts = LeadStore.import_drafts

    async def held(self: LeadStore, *args: Any) -> Any:
        writing.set()
        await release.wait()
        return await import_drafts(self, *args)

    monkeypatch.setattr(LeadStore, "import_drafts", held)
    assert (await client.get(url, headers=manager.headers())).status == 404  # nothing runs under it yet
    upload = asyncio.create_task(
        client.post("/import", data=_upload(path, manager.csrf, progress=token), headers=manager.headers(csrf=False))
    )
    await writing.wait()
    resp = await client.get(url, headers=manager.headers())
    assert resp.status == 200
    assert await resp.json() == {"phase": "write", "rows": 12, "total": 12, "text": "共 12 行，正在查重并写入…"}
    assert (await client.get(url, headers=logins[Role.AGENT].headers())).status == 403  # only who may import
    release.set()
    assert 'id="import-summary"' in await (await upload).text()
    gone = await client.get(url, headers=manager.headers())
    assert gone.status == 404 and (await gone.json())["error"] == "not_running"  # nothing kept once it ended


async def test_the_import_page_carries_a_progress_token_field_and_its_script(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    text = await (await client.get("/import", headers=logins[Role.SALES_MANAGER].headers())).text()
    assert 'name="progress"' in text and 'id="import-progress"' in text and "/static/import.js" in text
    script = await client.get("/static/import.js")
    assert script.status == 200 and "/api/leads/import/progress/" in await script.text()
