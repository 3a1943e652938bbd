"""The console's pages come from autoescaped templates with static scripts and styles, under a CSP
that forbids inline code."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from dialer.domain.access.policy import Role
from dialer.web.html import STATIC_DIR
from dialer.web.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import Login

# Each page, as a role that may open it.
_PAGES = {
    "/desk": Role.AGENT,
    "/wallboard": Role.SUPERVISOR,
    "/manage": Role.SALES_MANAGER,
    "/import": Role.SALES_MANAGER,
    "/reports": Role.SALES_MANAGER,
    "/reports/daily": Role.SALES_MANAGER,
    "/reports/weekly": Role.SUPERVISOR,
    "/reports/targets": Role.SALES_MANAGER,
    "/recordings": Role.SUPERVISOR,
    "/supervise/log": Role.ADMIN,
}


async def test_user_text_is_escaped_and_nothing_runs_inline(client: TestClient) -> None:
    login = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await login.text())
    assert token
    hostile = '<script>alert("x")</script>'
    resp = await client.post("/login", data={"name": hostile, "password": "nope", "csrf_token": token.group(1)})
    html = await resp.text()
    assert resp.status == 401 and hostile not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(("path", "role"), _PAGES.items())
async def test_pages_have_no_inline_script_or_style(
    client: TestClient, logins: dict[Role, Login], path: str, role: Role
) -> None:
    resp = await client.get(path, headers=logins[role].headers())
    html = await resp.text()
    assert resp.status == 200, path
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == [] and "<style" not in html and " style=" not in html
    assert '<link rel="stylesheet" href="/static/console.css">' in html


async def test_static_files_are_served_by_name_only(client: TestClient) -> None:
    for path in STATIC_DIR.iterdir():
        resp = await client.get(f"/static/{path.name}")
        assert resp.status == 200 and await resp.text() == path.read_text(encoding="utf-8")
        assert resp.content_type == {".css": "text/css", ".js": "text/javascript"}[path.suffix]
    for name in ("missing.js", "..%2Fhtml.py", "%2E%2E%2F%2E%2E%2Fi18n.py"):
        assert (await client.get(f"/static/{name}")).status == 404, name
