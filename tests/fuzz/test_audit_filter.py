"""The audit log's filter fuzzed: any action, actor, dates and page give a page that matches the
filter or a 400 naming the field, never a server error; on both the page and the API."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, AuditQuery
from tests.web.conftest import Login

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
filters = st.fixed_dictionaries(
    {},
    optional={
        "action": st.one_of(st.sampled_from([a.value for a in AuditAction]), text),
        "actor": st.one_of(st.sampled_from(["li", "zhang", "cli:root", "system", ""]), text),
        "since": st.one_of(st.dates().map(str), text),
        "until": st.one_of(st.dates().map(str), text),
        "page": st.one_of(st.integers(-5, 5).map(str), st.integers(-(2**70), 2**70).map(str), text),
    },
)


@FUZZ
@given(query=filters, page_too=st.booleans())
async def test_any_filter_gets_a_matching_page_or_a_named_400(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], query: dict[str, str], page_too: bool
) -> None:
    if not (await dialer_app.audit.entries(AuditQuery(action=AuditAction.EXPORT)))[1]:
        for n in range(3):
            await dialer_app.audit.record("li", AuditAction.EXPORT, f"x{n}.xlsx", dealer_id=1)
            await dialer_app.audit.record("zhang", AuditAction.LOGIN, "zhang", {"address": "10.0.0.5"}, dealer_id=1)
    headers = logins[Role.SUPERVISOR].headers()
    resp = await client.get("/api/audit", params=query, headers=headers)
    assert resp.status in (200, 400), (query, resp.status)
    body = await resp.json()
    if resp.status == 400:
        assert set(body["fields"]) <= set(query), (query, body)
    else:
        for entry in body["entries"]:
            assert not query.get("action") or entry["action"] == query["action"]
            assert not query.get("actor") or entry["actor"] == query["actor"]
        assert body["chain"]["holds"] is True
    if page_too:
        page = await client.get("/audit", params=query, headers=headers)
        assert page.status == resp.status, (query, page.status)
