"""SMS from the console (#15 item 4): one message to a lead from the desk and the lead card, and the sales
manager's waves. The rules are the SMS service's (the suppression list, consent, the sending window); these
tests show the console applies them, names every refusal, and refuses the wrong people."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.leads.model import LeadSource
from dialer.domain.privacy.suppression import SuppressionSource
from dialer.leads.sheets import write_sheet
from dialer.web.keys import AUTH, DIALER, ROUTES
from tests.web.conftest import PASSWORD, USERS, Fixtures, Login

TEMPLATE = "visit_confirmation"  # needs a booked visit: the seed's leads have none
PLAIN = "repurchase"  # customer, model, dealer: every lead has them (promotional)


async def _messages(app: App) -> list[tuple[str, str | None, int | None]]:
    return [(m.to_e164, m.template, m.lead_id) for m in await app.sms.store.messages()]


async def test_the_routes_admit_whom_the_policy_names(client: TestClient, logins: dict[Role, Login]) -> None:
    declared = {(spec.method, spec.path): spec for spec in client.app[ROUTES].values()}
    one = {Role.AGENT, Role.SUPERVISOR, Role.SALES_MANAGER}
    for key in (("GET", "/leads/{lead_id:\\d+}/sms"), ("POST", "/leads/{lead_id:\\d+}/sms"),
                ("GET", "/api/leads/{lead_id:\\d+}/sms/preview"), ("POST", "/api/leads/{lead_id:\\d+}/sms")):  # fmt: skip
        assert declared[key].allowed_roles() == one, key
    for key in (("GET", "/sms/waves"), ("POST", "/sms/waves"), ("GET", "/api/sms/waves"),
                ("GET", "/api/sms/waves/preview"), ("POST", "/api/sms/waves")):  # fmt: skip
        assert declared[key].allowed_roles() == {Role.SALES_MANAGER}, key
    spec = (await (await client.get("/api/openapi.json", headers=logins[Role.SUPERVISOR].headers())).json())["paths"]
    assert {"/api/leads/{lead_id}/sms", "/api/leads/{lead_id}/sms/preview", "/api/sms/waves",
            "/api/sms/waves/preview"} <= set(spec)  # fmt: skip


async def test_an_agent_previews_and_sends_to_their_own_lead_and_it_is_in_the_history(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    app = client.app[DIALER]
    preview = await client.get(f"/api/leads/{data.own_lead}/sms/preview?template={PLAIN}", headers=agent.headers())
    body = await preview.json()
    assert preview.status == 200, body
    assert body["to"] == "+86138****8000" and "张三" in body["text"] and "轿车A" in body["text"]
    assert body["text"].startswith("【DCC汽车】") and body["text"].endswith("回T退订")
    assert await _messages(app) == []  # a preview writes nothing
    sent = await client.post(f"/api/leads/{data.own_lead}/sms", json={"template": PLAIN}, headers=agent.headers())
    assert sent.status == 201, await sent.text()
    assert await _messages(app) == [("+8613800138000", PLAIN, data.own_lead)]
    (event,) = [e for e in await app.leads.store.events(data.own_lead) if e.kind == "sms"]
    assert (event.actor, event.data["template"], event.data["message_id"]) == (
        "web:zhang", PLAIN, (await sent.json())["message_id"])  # fmt: skip
    card = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    assert "发送短信（模板 repurchase）" in card and f'id="sms-link-{data.own_lead}"' in card


async def test_the_lead_page_form_previews_then_sends(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    login = logins[Role.SUPERVISOR]
    headers = login.headers(csrf=False)
    page = await client.get(f"/leads/{data.other_lead}/sms?template={PLAIN}", headers=headers)
    text = await page.text()
    assert page.status == 200 and 'id="sms-text"' in text and "李四" in text
    done = await client.post(f"/leads/{data.other_lead}/sms", data={"csrf_token": login.csrf, "template": PLAIN},
                             headers=headers, allow_redirects=False)  # fmt: skip
    assert done.status == 303 and done.headers["Location"].startswith(f"/leads/{data.other_lead}/sms?sent=")
    shown = await (await client.get(done.headers["Location"], headers=headers)).text()
    assert 'id="sms-sent"' in shown
    # The desk's due list links each lead to its SMS page.
    desk = await (await client.get("/desk?scope=all", headers=headers)).text()
    assert f'href="/leads/{data.other_lead}/sms"' in desk


async def test_another_agents_lead_and_roles_without_the_right_are_refused(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT]
    for resp in (
        await client.post(f"/api/leads/{data.other_lead}/sms", json={"template": PLAIN}, headers=agent.headers()),
        await client.get(f"/api/leads/{data.other_lead}/sms/preview?template={PLAIN}", headers=agent.headers()),
        await client.get(f"/leads/{data.other_lead}/sms", headers=agent.headers()),
        await client.post(
            f"/api/leads/{data.own_lead}/sms", json={"template": PLAIN}, headers=logins[Role.QA].headers()
        ),
        await client.get("/sms/waves", headers=logins[Role.SUPERVISOR].headers()),
    ):
        assert resp.status == 403, resp.url
    card = await (await client.get(f"/leads/{data.own_lead}", headers=logins[Role.QA].headers())).text()
    assert "sms-link" not in card  # QA reads the lead but sends nothing
    assert await _messages(client.app[DIALER]) == []


async def test_hostile_and_wrong_input_is_named_and_nothing_is_sent(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    boss = logins[Role.SUPERVISOR].headers()
    url = f"/api/leads/{data.own_lead}/sms"
    huge = await client.post(url, json={"template": "x" * 100_000}, headers=boss)
    assert huge.status == 413  # the console's body limit, before any handler
    for body in ({}, {"template": ""}, {"template": "x" * 60_000}, {"template": ["repurchase"]},
                 {"template": "no_such_template"}, {"template": "visit_consultant"}, {"template": TEMPLATE}):  # fmt: skip
        resp = await client.post(url, json=body, headers=boss)
        answer = await resp.json()
        assert resp.status == 400 and "template" in answer["fields"], (body, answer)
        assert len(resp.content_type) < 100 and len(str(answer)) < 2000, "a huge field is not echoed back"
    # A visit template on a lead without a booked visit: the missing values are named.
    resp = await client.get(f"{url}/preview?template={TEMPLATE}", headers=boss)
    assert "date" in (await resp.json())["fields"]["template"]
    assert (await client.post("/api/leads/999999/sms", json={"template": PLAIN}, headers=boss)).status == 404
    assert (
        await client.post(url, data=b"{not json", headers={**boss, "Content-Type": "application/json"})
    ).status == 400
    page = await client.get(f"/leads/{data.own_lead}/sms?template=nope", headers=boss)
    assert page.status == 400 and 'id="error-template"' in await page.text()
    assert await _messages(client.app[DIALER]) == []


async def test_a_suppressed_number_is_refused_with_the_reason(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    app = client.app[DIALER]
    await app.privacy.suppress("13800138000", "客户投诉", SuppressionSource.CONSOLE, "test")
    agent = logins[Role.AGENT]
    resp = await client.post(f"/api/leads/{data.own_lead}/sms", json={"template": PLAIN}, headers=agent.headers())
    answer = await resp.json()
    assert resp.status == 422 and answer["error"] == "sms_refused" and "suppression list" in answer["message"]
    page = await client.get(f"/leads/{data.own_lead}/sms?template={PLAIN}", headers=agent.headers(csrf=False))
    text = await page.text()
    assert 'id="sms-refused"' in text and "客户投诉" in text and 'id="sms-send"' not in text
    assert await _messages(app) == []
    assert [e for e in await app.leads.store.events(data.own_lead) if e.kind == "sms"] == []


async def test_quiet_hours_hold_the_message_until_the_window(
    client: TestClient, data: Fixtures, clock: VirtualClock
) -> None:
    clock.advance(timedelta(hours=13, minutes=30).total_seconds())  # 22:30 in Shanghai: outside 08:00-21:00
    session = await client.app[AUTH].login(USERS[Role.AGENT][0], PASSWORD, "127.0.0.1")
    agent = Login(Role.AGENT, session.token, session.csrf)
    page = await client.get(f"/leads/{data.own_lead}/sms?template={PLAIN}", headers=agent.headers(csrf=False))
    assert page.status == 200 and "2026-11-30 08:00" in await page.text()  # the page says when it goes
    sent = await client.post(f"/api/leads/{data.own_lead}/sms", json={"template": PLAIN}, headers=agent.headers())
    assert (sent.status, (await sent.json())["not_before"]) == (201, "2026-11-30T00:00:00+00:00")


# -- waves -------------------------------------------------------------------------------------------------


async def _base_customers(app: App, tmp_path: Path, n: int, *, car: str = "科鲁兹") -> None:
    path = tmp_path / f"base_{car}.csv"
    rows = [[f"客户{i}", f"1370000{i:04d}", "基盘客户", car, "2019-05-01", "agent1"] for i in range(n)]
    write_sheet(path, ["姓名", "手机", "线索来源", "现有车型", "购车日期", "负责人"], rows)
    await app.leads.importer.import_file(path, actor="test", source=LeadSource.BASE_CUSTOMER)


async def test_a_wave_is_previewed_with_the_suppressed_named_then_started_and_its_progress_shown(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    app = client.app[DIALER]
    await _base_customers(app, tmp_path, 5)
    await _base_customers(app, tmp_path, 2, car="英朗")  # not in the group
    await app.privacy.suppress("13700000003", "客户投诉", SuppressionSource.CONSOLE, "test")
    manager = logins[Role.SALES_MANAGER]
    query = "model=迈锐宝XL&current=科鲁兹&min_age=3"
    preview = await (await client.get(f"/api/sms/waves/preview?{query}", headers=manager.headers())).json()
    assert (preview["selected"], preview["recipients"], preview["refused_count"]) == (5, 4, 1)
    (refused,) = preview["refused"]
    assert refused["name"] == "客户3" and refused["mobile"] == "+86137****0003" and "客户投诉" in refused["reason"]
    page = await (await client.get(f"/sms/waves?{query}", headers=manager.headers(csrf=False))).text()
    assert 'id="wave-refused"' in page and "客户3" in page and 'id="wave-start"' in page
    form = {"csrf_token": manager.csrf, "template": "repurchase", "model": "迈锐宝XL", "current": "科鲁兹",
            "min_age": "3", "max_age": "", "limit": "", "name": "12月置换"}  # fmt: skip
    done = await client.post("/sms/waves", data=form, headers=manager.headers(csrf=False), allow_redirects=False)
    assert done.status == 303 and done.headers["Location"].startswith("/sms/waves?started=")
    (wave,) = (await (await client.get("/api/sms/waves", headers=manager.headers())).json())["waves"]
    assert (wave["name"], wave["waiting"], wave["sent"], wave["failed"], wave["replied"]) == ("12月置换", 4, 0, 0, 0)
    assert sorted(m[0] for m in await _messages(app)) == [f"+861370000000{i}" for i in (0, 1, 2, 4)]
    shown = await (await client.get(done.headers["Location"], headers=manager.headers(csrf=False))).text()
    assert 'id="wave-started"' in shown and "12月置换" in shown


async def test_wave_input_is_checked_field_by_field(client: TestClient, logins: dict[Role, Login]) -> None:
    manager = logins[Role.SALES_MANAGER].headers()
    for query, field in (("", "model"), ("model=X&min_age=abc", "min_age"), ("model=X&max_age=-1", "max_age"),
                         ("model=X&min_age=5&max_age=2", "max_age"), ("model=X&limit=0", "limit"),
                         ("model=X&limit=99999999999", "limit"), ("model=" + "X" * 5000, "model"),
                         ("model=X&template=nope", "template"), ("model=X&template=" + "t" * 500, "template")):  # fmt: skip
        resp = await client.get(f"/api/sms/waves/preview?{query}", headers=manager)
        assert resp.status == 400 and field in (await resp.json())["fields"], query
    resp = await client.post("/api/sms/waves", json={"model": "X", "name": ["x"]}, headers=manager)
    assert resp.status == 400 and "name" in (await resp.json())["fields"]
    assert (await client.post("/api/sms/waves", json={"model": "X", "template": "nope"}, headers=manager)).status == 400
    assert (await (await client.get("/api/sms/waves", headers=manager)).json())["waves"] == []


async def test_a_template_the_customers_lack_values_for_refuses_each_instead_of_failing_the_wave(
    client: TestClient, logins: dict[Role, Login], tmp_path: Path
) -> None:
    """A visit reminder needs a visit's date and time, which no base customer has: the preview names them
    all, and a wave started anyway queues nothing and counts each refusal (before: an error mid-wave)."""
    await _base_customers(client.app[DIALER], tmp_path, 2)
    manager = logins[Role.SALES_MANAGER].headers()
    preview = await (await client.get("/api/sms/waves/preview?model=X&template=visit_reminder", headers=manager)).json()
    assert (preview["selected"], preview["recipients"]) == (2, 0) and "date" in preview["refused"][0]["reason"]
    started = await client.post("/api/sms/waves", json={"model": "X", "template": "visit_reminder"}, headers=manager)
    report = await started.json()
    assert started.status == 201 and (report["selected"], report["queued"]) == (2, 0)
    assert sum(report["refused"].values()) == 2
