"""The phones' SIP accounts in the console (#14 item 3): the admin adds, resets and removes; a password
is shown once, on that answer only, and only its digest is stored."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditQuery
from dialer.domain.pbx.phones import ha1
from tests.web.conftest import Login


async def test_the_admin_adds_an_account_sees_its_password_once_and_resets_it(
    client: TestClient, dialer_app: App, logins: dict[Role, Login]
) -> None:
    admin = logins[Role.ADMIN]
    added = await client.post("/phones", data={"csrf_token": admin.csrf, "change": "add", "endpoint": "agent7"},
                              headers=admin.headers(csrf=False))  # fmt: skip
    page = await added.text()
    assert added.status == 200 and added.headers["Cache-Control"] == "no-store"
    found = re.search(r'<code id="phone-password-value">(\w+)</code>', page)
    assert found is not None and len(found.group(1)) >= 20
    password = found.group(1)
    (account,) = [a for a in await dialer_app.phones.accounts() if a.endpoint == "agent7"]
    assert account.ha1 == ha1("agent7", password)  # the digest only: the password itself is nowhere
    listed = await (await client.get("/phones", headers=admin.headers())).text()
    assert 'id="phone-agent7"' in listed and password not in listed
    api = await (await client.get("/api/phones", headers=admin.headers())).json()
    assert [p["endpoint"] for p in api["phones"]] == ["agent7"] and "password" not in api["phones"][0]

    reset = await client.post("/api/phones/agent7/reset", headers=admin.headers())
    body = await reset.json()
    assert reset.status == 200 and body["password"] != password and reset.headers["Cache-Control"] == "no-store"
    twice = await client.post("/phones", data={"csrf_token": admin.csrf, "change": "add", "endpoint": "agent7"},
                              headers=admin.headers(csrf=False))  # fmt: skip
    assert twice.status == 400 and 'id="error-endpoint"' in await twice.text()
    bad = await client.post("/api/phones", json={"endpoint": "Agent 7; DROP"}, headers=admin.headers())
    assert bad.status == 400 and "endpoint" in (await bad.json())["fields"]
    removed = await client.post("/api/phones/agent7/remove", headers=admin.headers())
    assert removed.status == 200 and await dialer_app.phones.accounts() == []
    gone = await client.post("/api/phones/agent7/reset", headers=admin.headers())
    assert gone.status == 404 and (await gone.json())["error"] == "phone_not_found"
    # Each change is in the audit log under the admin's name, never with the password.
    entries, _ = await dialer_app.audit.entries(AuditQuery(limit=100))
    changes = [(str(e.action), e.actor, e.target) for e in reversed(entries) if str(e.action).startswith("phone.")]
    assert changes == [("phone.add", "web:root", "agent7"), ("phone.reset", "web:root", "agent7"),
                       ("phone.remove", "web:root", "agent7")]  # fmt: skip
    assert not any(password in str(e.detail) for e in entries)


async def test_only_the_admin_manages_phones(client: TestClient, logins: dict[Role, Login]) -> None:
    for role in (Role.AGENT, Role.SUPERVISOR, Role.QA, Role.SALES_MANAGER):
        assert (await client.get("/phones", headers=logins[role].headers())).status == 403, role
        refused = await client.post("/api/phones", json={"endpoint": "agent9"}, headers=logins[role].headers())
        assert refused.status == 403, role
