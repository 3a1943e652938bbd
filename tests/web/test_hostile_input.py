"""Hostile input gets a clear 4xx naming what was wrong, never a server error; bodies are read only when
the route and the session allow it; every answer carries the security headers and no server versions."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from aiohttp.web_request import BaseRequest
from multidict import MultiDictProxy

from dialer.domain.access.policy import Role
from tests.web.conftest import Fixtures, Login

# Python refuses to read an integer of more than 4,300 digits (sys.int_info.default_max_str_digits).
HUGE = "9" * 5000


async def _anon_csrf(client: TestClient) -> str:
    resp = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', await resp.text())
    assert match
    return match.group(1)


async def test_multipart_without_a_boundary_is_a_400(client: TestClient) -> None:
    await _anon_csrf(client)
    resp = await client.post(
        "/login", data=b"name=x&password=y", headers={"Content-Type": "multipart/form-data"}, allow_redirects=False
    )
    assert resp.status == 400
    assert "body" in await resp.text()


async def test_a_non_ascii_csrf_token_is_refused_not_a_crash(client: TestClient, logins: dict[Role, Login]) -> None:
    token = await _anon_csrf(client)
    as_form = await client.post("/login", data={"name": "x", "password": "y", "csrf_token": "é" + token[1:]})
    assert as_form.status == 403
    headers = {**logins[Role.AGENT].headers(csrf=False), "X-CSRF-Token": "jeton-é"}
    as_header = await client.post("/api/desk/pause", json={"reason": "x"}, headers=headers)
    assert as_header.status == 403
    assert (await as_header.json())["error"] == "csrf"


@pytest.mark.parametrize("limit", ["²", "٣", "1" * 4301, HUGE])
async def test_odd_digits_and_huge_integers_name_their_field(
    client: TestClient, logins: dict[Role, Login], limit: str
) -> None:
    resp = await client.get("/api/recordings", params={"limit": limit}, headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 400
    body = await resp.json()
    assert "limit" in body["fields"]


async def test_a_huge_id_in_the_path_is_a_400(client: TestClient, logins: dict[Role, Login]) -> None:
    resp = await client.get(f"/recordings/{HUGE}/audio", headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 400
    assert "recording_id" in await resp.text()


@pytest.mark.parametrize(
    ("header", "status", "content_range"),
    [
        (f"bytes={HUGE}-", 416, "bytes */10240"),  # starts past any file
        ("bytes=٣-", 416, "bytes */10240"),  # not ASCII digits: malformed
        (f"bytes=0-{HUGE}", 206, "bytes 0-10239/10240"),  # an end past the file is clamped (RFC 9110)
        (f"bytes=-{HUGE}", 206, "bytes 0-10239/10240"),  # the last HUGE bytes are the whole file
    ],
)
async def test_a_range_with_a_huge_number_is_served_or_refused_by_the_rules(
    client: TestClient, logins: dict[Role, Login], data: Fixtures, header: str, status: int, content_range: str
) -> None:
    resp = await client.get(
        f"/recordings/{data.own_recording}/audio", headers={**logins[Role.SUPERVISOR].headers(), "Range": header}
    )
    assert resp.status == status
    assert resp.headers["Content-Range"] == content_range


async def test_an_anonymous_post_is_refused_before_its_body_is_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    post = BaseRequest.post

    async def spy(self: BaseRequest) -> MultiDictProxy[Any]:
        parsed.append(self.path)
        return await post(self)

    monkeypatch.setattr(BaseRequest, "post", spy)
    token = await _anon_csrf(client)  # a double-submit cookie, as anyone can get
    upload = FormData()
    upload.add_field("csrf_token", token)
    upload.add_field("file", b"x" * (2 * 1024 * 1024), filename="leads.csv")
    resp = await client.post("/api/leads/import", data=upload)
    assert resp.status == 401
    assert parsed == []  # refused from the headers: the 2 MB were never parsed


async def test_the_login_form_takes_a_small_body_only(client: TestClient) -> None:
    token = await _anon_csrf(client)
    resp = await client.post("/login", data={"name": "x", "password": "p" * (100 * 1024), "csrf_token": token})
    assert resp.status == 413


async def test_only_the_uploading_role_may_send_a_big_body(client: TestClient, logins: dict[Role, Login]) -> None:
    big = FormData()
    big.add_field("file", b"x" * (200 * 1024), filename="leads.csv")
    agent = await client.post("/api/leads/import", data=big, headers=logins[Role.AGENT].headers())
    assert agent.status == 403
    form = FormData()
    form.add_field("file", "姓名,手机\n张三,13800138000\n".encode() + b"\n" * (200 * 1024), filename="leads.csv")
    manager = await client.post("/api/leads/import", data=form, headers=logins[Role.SALES_MANAGER].headers())
    assert manager.status == 200, await manager.text()
    # Any other route of a signed-in user keeps the small limit.
    other = await client.post(
        "/api/desk/pause", data=b"{" + b" " * (200 * 1024) + b"}", headers=logins[Role.AGENT].headers()
    )
    assert other.status == 413


@pytest.mark.parametrize("path", ["/login", "/nowhere", "/api/me", "/desk", "/static/console.css"])
async def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    resp = await client.get(path, allow_redirects=False)
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Server"] == "dcc-dialer"


@pytest.mark.parametrize(
    "raw",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
     b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"],
)  # fmt: skip
async def test_what_aiohttp_refuses_before_the_console_runs_shows_no_versions(client: TestClient, raw: bytes) -> None:
    """Found by hand (#19 finding 6): a request aiohttp cannot parse got ``Server: Python/3.11 aiohttp/3.14.5``."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(raw)
        await writer.drain()
        head = (await asyncio.wait_for(reader.read(4096), 10)).split(b"\r\n\r\n")[0].decode("latin-1")
    finally:
        writer.close()
    assert head.startswith(("HTTP/1.0 400", "HTTP/1.1 400")), head
    assert "\r\nServer: dcc-dialer" in head and "aiohttp" not in head and "Python" not in head, head
