"""The desk's browser phone in the console (views_browser_phone): who gets which SIP account, the page's
panel and Content-Security-Policy, and the SIP library the console serves itself (or explains it lacks)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.pbx.phones import REALM
from dialer.settings import LabSettings, Settings
from dialer.web import views_browser_phone
from dialer.web.keys import AUTH
from tests.web.conftest import COLLEAGUE, PASSWORD, Login

HTTP_PORT = 15088


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's console, with agent1's phone a browser phone of the lab."""
    return dataclasses.replace(settings, lab=LabSettings(browser_phones=("agent1",), http_port=HTTP_PORT))


async def colleague(client: TestClient) -> Login:
    """agent2's login: an agent whose phone is not a browser."""
    new = await client.app[AUTH].login(COLLEAGUE[0], PASSWORD, "127.0.0.1")
    return Login(Role.AGENT, new.token, new.csrf)


async def test_the_agent_gets_their_own_account_never_cached(
    client: TestClient, logins: dict[Role, Login], dialer_app: App
) -> None:
    agent = logins[Role.AGENT].headers()
    resp = await client.get("/api/desk/browser-phone", headers=agent)
    assert resp.status == 404 and (await resp.json())["error"] == "no_phone_account"
    made = await dialer_app.phones.add("agent1")
    await dialer_app.phones.add("agent2")
    resp = await client.get("/api/desk/browser-phone", headers=agent)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body == {"endpoint": "agent1", "username": "agent1", "uri": "sip:agent1@127.0.0.1", "realm": REALM,
                    "websocket": f"ws://127.0.0.1:{HTTP_PORT}/ws", "ha1": made.account.ha1}  # fmt: skip
    assert made.password not in await resp.text()


async def test_nobody_else_gets_an_account(client: TestClient, logins: dict[Role, Login], dialer_app: App) -> None:
    for endpoint in ("agent1", "agent2"):
        await dialer_app.phones.add(endpoint)
    # agent2's phone is a desk phone; a supervisor's login has no phone; nobody logged in gets nothing.
    for headers in ((await colleague(client)).headers(), logins[Role.SUPERVISOR].headers()):
        resp = await client.get("/api/desk/browser-phone", headers=headers)
        assert resp.status == 404 and (await resp.json())["error"] == "no_browser_phone"
    assert (await client.get("/api/desk/browser-phone")).status == 401


async def test_only_a_browser_phone_agent_gets_the_panel_and_pages_may_reach_the_websocket(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    mine = await client.get("/desk", headers=logins[Role.AGENT].headers())
    page = await mine.text()
    assert 'id="browser-phone"' in page and '<script src="/static/browser-phone.js"></script>' in page
    assert f"connect-src 'self' ws://127.0.0.1:{HTTP_PORT}" in mine.headers["Content-Security-Policy"]
    other = await (await client.get("/desk", headers=(await colleague(client)).headers())).text()
    assert 'id="browser-phone"' not in other and "browser-phone.js" not in other


async def test_the_console_serves_the_installed_library(client: TestClient) -> None:
    if not (views_browser_phone.SIPJS_DIR / "index.js").is_file():
        pytest.fail(f"SIP.js is not installed in {views_browser_phone.SIPJS_DIR}: run scripts/bootstrap.sh")
    resp = await client.get("/vendor/sip.js/index.js")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/javascript")
    assert "export" in await resp.text()
    assert (await client.get("/vendor/sip.js/api/index.js")).status == 200
    for missing in ("nothing.js", "../package.json", "..%2F..%2Fpackage.json", "index.d.ts"):
        assert (await client.get(f"/vendor/sip.js/{missing}")).status == 404, missing


async def test_a_missing_library_is_named_with_what_to_do(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(views_browser_phone, "SIPJS_DIR", tmp_path / "not-installed")
    monkeypatch.setattr(views_browser_phone, "_files", {})
    resp = await client.get("/vendor/sip.js/index.js")
    assert resp.status == 503 and resp.content_type == "text/html"
    page = await resp.text()
    assert "scripts/bootstrap.sh" in page and "服务暂不可用" in page and str(tmp_path) not in page
