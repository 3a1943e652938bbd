"""Walk EVERY route of the app's router as every role and as nobody: only the declared roles get through.

The table of route -> allowed roles is the route declarations' own metadata (derived from the
access policy), so this test fails if a route is added without a rule, if the middleware lets a
role through that the policy refuses, or if it refuses a role the policy allows.
"""

from __future__ import annotations

import re

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from dialer.domain.access.policy import Role
from dialer.web.keys import ROUTES
from dialer.web.routing import Open, RouteSpec
from tests.web.conftest import Fixtures, Login


def _url(spec: RouteSpec, data: Fixtures) -> str:
    # Resources of the agent under test, so a refusal can only come from the role check.
    # (Campaign 1 does not exist: the roles let through get a 404 from the handler, never a 403.)
    values = {"lead_id": data.own_lead, "recording_id": data.own_recording, "name": "console.css",
              "campaign_id": 1, "command": "pause", "promotion_id": 1, "endpoint": "agent1", "path": "index.js",
              "attempt_id": 1, "token": "00000000-0000-4000-8000-000000000000"}  # fmt: skip
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(values[m.group(1)]), spec.path)


async def test_every_route_is_declared_and_guarded_by_role(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    declared = client.app[ROUTES]
    # Logging out ends the sessions the walk uses: that route goes last.
    routes = sorted(client.app.router.routes(), key=lambda r: r.resource.canonical == "/logout")  # type: ignore[union-attr]
    assert len(routes) == len(declared) >= 30
    await client.get("/login")  # as a browser would: the anonymous CSRF cookie, for public POSTs
    anon_csrf = client.session.cookie_jar.filter_cookies(client.make_url("/"))["dcc_csrf"].value
    checked = 0
    for route in routes:
        spec = declared.get(route.handler)
        assert spec is not None, f"{route.method} {route.resource.canonical} is not in the route table"  # type: ignore[union-attr]
        url = _url(spec, data)
        anonymous = await client.request(spec.method, url, allow_redirects=False, headers={"X-CSRF-Token": anon_csrf})
        if spec.access is Open.PUBLIC:
            # (401 is the login form's own answer to empty credentials, not the gate's.)
            assert anonymous.status != 403, f"{spec.method} {spec.path} refused anonymous"
        elif spec.method == "GET" and not spec.is_api and spec.path != "/metrics":
            assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login"), (
                f"{spec.method} {spec.path}"
            )
        else:
            assert anonymous.status in (401, 403), f"{spec.method} {spec.path} answered {anonymous.status} to nobody"
        allowed = spec.allowed_roles()
        for role, login in logins.items():
            resp = await client.request(spec.method, url, headers=login.headers(), allow_redirects=False)
            where = f"{spec.method} {spec.path} as {role.value}: {resp.status}"
            if role in allowed:
                assert resp.status != 403 and (spec.access is Open.PUBLIC or resp.status != 401), where
            else:
                assert resp.status == 403, where
                assert await _says_forbidden(resp), where
            checked += 1
        # Every non-public route admits at least one role and refuses nobody it should not.
        assert spec.access is Open.PUBLIC or allowed, f"{spec.path} admits no role"
    assert checked == len(routes) * len(Role)


async def test_logout_is_the_only_route_left_for_a_role_without_pages(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    """The admin runs the system but sees no lead, call or recording: spot-check the matrix end to end."""
    admin = logins[Role.ADMIN]
    for path in ("/desk", "/wallboard", "/reports", "/recordings", "/import", "/api/leads/due"):
        assert (await client.get(path, headers=admin.headers(), allow_redirects=False)).status == 403, path
    assert (await client.get("/users", headers=admin.headers())).status == 200


async def _says_forbidden(resp: ClientResponse) -> bool:
    """The refusal is the access policy's: ``{"error": "forbidden"}`` to the API, the error page naming
    ``forbidden`` to a browser; not some other page that happens to answer 403."""
    if resp.content_type == "application/json":
        return (await resp.json()).get("error") == "forbidden"
    return resp.content_type == "text/html" and '<p class="error" id="error">forbidden</p>' in await resp.text()
