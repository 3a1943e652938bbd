"""Campaigns from the console (#15 item 3): the form and the API create what the same campaign file
would, every refused field is named (and shown next to itself), the lifecycle goes through the campaign
service, and only the supervisor may change anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from multidict import MultiDict

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.campaigns.definition import DefinitionError, definition_problems, load_definition, parse_definition
from dialer.domain.campaigns.lifecycle import CampaignStatus
from dialer.settings import Settings
from dialer.web.views_campaigns import campaign_table
from tests.web.conftest import Fixtures, Login

# The form as a supervisor fills it in; the windows and retry fields carry the settings' values
# except where changed (Sunday off, no-answer retry in 1 h, three attempts).
TOML = """
name = "网络线索邀约"
kind = "web"
mode = "preview"
agents = ["agent1"]
lines = 2
caller_id = "+861088886666"

[filter]
sources = ["hq", "web"]
states = ["new", "following"]
owners = ["agent1"]
not_contacted_days = 1

[windows]
sun = ""

[retry]
no_answer = "1h"
max_attempts = 3
"""


def _form(settings: Settings, **changes: str) -> MultiDict[str]:
    form: MultiDict[str] = MultiDict(
        [("name", "网络线索邀约"), ("kind", "web"), ("mode", "preview"), ("agents", "agent1"), ("lines", "2"),
         ("caller_id", "+861088886666"), ("filter.sources", "hq"), ("filter.sources", "web"),
         ("filter.states", "new"), ("filter.states", "following"), ("filter.owners", "agent1"),
         ("filter.models", ""), ("filter.car_age_min_years", ""), ("filter.not_contacted_days", "1")]
    )  # fmt: skip
    for section, defaults in (("windows", settings.campaigns.windows), ("retry", settings.campaigns.retry)):
        for name in defaults.__dataclass_fields__:
            value = getattr(defaults, name)
            form[f"{section}.{name}"] = ", ".join(value) if isinstance(value, tuple) else str(value)
    form.update({"windows.sun": "", "retry.no_answer": "1h", "retry.max_attempts": "3"})
    for key, value in changes.items():
        form[key] = value
    return form


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_form_makes_the_table_the_campaign_file_holds(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    path.write_text(TOML, encoding="utf-8")
    from_file = load_definition(path, settings)
    table = campaign_table(_form(settings), settings)
    assert table == dict(from_file.source)
    assert definition_problems(table, "console", settings) == {}


def test_every_refused_field_is_named_at_once(settings: Settings) -> None:
    table = campaign_table(
        _form(settings, name=" ", lines="99", **{"retry.busy": "soon", "filter.car_age_min_years": "x"}), settings
    )
    problems = definition_problems(table, "console", settings)
    assert set(problems) == {"name", "lines", "retry.busy", "filter.car_age_min_years"}
    assert "expected a number" in problems["filter.car_age_min_years"]


def test_the_campaigns_own_numbers_are_form_fields_checked_as_in_the_file(settings: Settings, tmp_path: Path) -> None:
    """Every top-level key a campaign file may hold has its field: the deadline's urgency and the wrap-up time."""
    path = tmp_path / "timed.toml"
    path.write_text(TOML.replace("lines = 2\n", "lines = 2\ndeadline_urgent_s = 3600\nwrap_up_timeout_s = 90.5\n"),
                    encoding="utf-8")  # fmt: skip
    table = campaign_table(_form(settings, deadline_urgent_s="3600", wrap_up_timeout_s="90.5"), settings)
    assert table == dict(load_definition(path, settings).source)
    bad = campaign_table(_form(settings, deadline_urgent_s="-1", wrap_up_timeout_s="0"), settings)
    problems = definition_problems(bad, "console", settings)
    assert set(problems) == {"deadline_urgent_s", "wrap_up_timeout_s"}


_FIELDS = ["name", "kind", "mode", "agents", "lines", "caller_id", "deadline_urgent_s", "wrap_up_timeout_s",
           "filter.sources", "filter.states",
           "filter.car_age_min_years", "filter.car_age_max_years", "windows.mon", "windows.holidays",
           "retry.busy", "retry.max_attempts", "filter.models"]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(["", "hq", "web", "preview", "new", "deal", "3", "-1", "2.5", "1e9", "09:00-12:00", "9-5",
                     "never", "10m", "2027-01-01", "x,y", "0", "99", "13800138000", "NaN"]),
    st.text(max_size=12),
)  # fmt: skip


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(st.sampled_from(_FIELDS), _VALUES), max_size=12))
def test_any_form_gets_named_problems_or_a_campaign(settings: Settings, pairs: list[tuple[str, str]]) -> None:
    """Whatever is typed, the definition either accepts the table or names fields; it never fails otherwise."""
    table = campaign_table(MultiDict(pairs), settings)
    problems = definition_problems(table, "console", settings)
    if problems:
        assert all(reason for reason in problems.values())
        with pytest.raises(DefinitionError) as refused:
            parse_definition(table, "console", settings)
        assert refused.value.field in problems
    else:
        parse_definition(table, "console", settings)


async def test_supervisor_creates_in_the_form_and_it_equals_the_file(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], settings: Settings, tmp_path: Path
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    page = await client.get("/campaigns/new", headers=supervisor.headers())
    assert page.status == 200
    html = await page.text()
    assert 'value="agent1"' in html and "/static/live-count.js" in html
    resp = await client.post("/campaigns", data=_form(settings), headers=supervisor.headers(), allow_redirects=False)
    assert resp.status == 303, await resp.text()
    created = int(resp.headers["Location"].rpartition("=")[2])
    [record] = await dialer_app.campaigns.all()
    assert record.id == created and record.status is CampaignStatus.DRAFT and record.created_by == "web:li"
    path = tmp_path / "web.toml"
    path.write_text(TOML, encoding="utf-8")
    from_file = await dialer_app.campaigns.create(path, actor="li")
    assert record.definition == from_file.definition
    assert dict(record.definition.source) == dict(from_file.definition.source)


async def test_a_refused_form_shows_each_error_next_to_its_field_and_keeps_the_input(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], settings: Settings
) -> None:
    form = _form(settings, lines="99", **{"windows.mon": "9-5", "filter.models": "SUV B, 轿车A"})
    resp = await client.post("/campaigns", data=form, headers=logins[Role.SUPERVISOR].headers())
    assert resp.status == 400
    html = await resp.text()
    assert 'id="error-lines"' in html and 'id="error-windows.mon"' in html
    assert 'id="error-name"' not in html
    assert 'value="9-5"' in html and 'value="SUV B, 轿车A"' in html and 'value="网络线索邀约"' in html
    assert await dialer_app.campaigns.all() == []


async def test_api_creates_lists_counts_and_runs_the_lifecycle(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    supervisor = logins[Role.SUPERVISOR].headers()
    body = {"name": "总部线索", "kind": "hq", "agents": ["agent1"], "filter": {"owners": ["agent1"]}}
    resp = await client.post("/api/campaigns", json=body, headers=supervisor)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["status"] == "draft" and created["enrolled"] == 0
    cid = created["id"]

    count = await client.get("/api/campaigns/count?kind=hq&filter.owners=agent1", headers=supervisor)
    assert (await count.json()) == {"count": 1}  # agent1's HQ lead; agent2's is left out
    assert (await (await client.get("/api/campaigns/count?kind=hq", headers=supervisor)).json()) == {"count": 2}
    assert (await (await client.get("/api/campaigns/count?kind=web", headers=supervisor)).json()) == {"count": 0}

    started = await client.post(f"/api/campaigns/{cid}/start", headers=supervisor)
    assert started.status == 200 and (await started.json())["enrolled"] == 1
    listing = await (await client.get("/api/campaigns", headers=logins[Role.SALES_MANAGER].headers())).json()
    assert [(c["id"], c["status"], c["enrolled"], c["remaining"]) for c in listing["campaigns"]] == [
        (cid, "running", 1, 1)
    ]
    for command, status in (("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
        resp = await client.post(f"/api/campaigns/{cid}/{command}", headers=supervisor)
        assert resp.status == 200 and (await resp.json())["status"] == status
        assert (await dialer_app.campaigns.status(cid)).campaign.status.value == status
    again = await client.post(f"/api/campaigns/{cid}/resume", headers=supervisor)
    assert again.status == 400 and "stopped" in (await again.json())["fields"]["command"]
    missing = await client.post("/api/campaigns/999/start", headers=supervisor)
    assert missing.status == 404


async def test_api_names_each_bad_field(client: TestClient, dialer_app: App, logins: dict[Role, Login]) -> None:
    supervisor = logins[Role.SUPERVISOR].headers()
    body = {"kind": "cold", "mode": "fast", "filter": {"states": ["deal"]}, "retry": {"max_attempts": 0}}
    resp = await client.post("/api/campaigns", json=body, headers=supervisor)
    assert resp.status == 400
    assert set((await resp.json())["fields"]) == {"name", "kind", "mode", "filter.states", "retry.max_attempts"}
    bad = await client.get("/api/campaigns/count?kind=hq&filter.states=deal", headers=supervisor)
    assert bad.status == 400 and set((await bad.json())["fields"]) == {"filter.states"}
    no_kind = await client.get("/api/campaigns/count", headers=supervisor)
    assert no_kind.status == 400 and set((await no_kind.json())["fields"]) == {"kind"}
    assert await dialer_app.campaigns.all() == []


async def test_only_the_supervisor_changes_campaigns_and_the_agent_sees_none(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    body = {"name": "x", "kind": "hq"}
    for role in (Role.AGENT, Role.QA, Role.SALES_MANAGER, Role.ADMIN):
        assert (await client.post("/api/campaigns", json=body, headers=logins[role].headers())).status == 403, role
    agent = logins[Role.AGENT].headers()
    for path in ("/campaigns", "/api/campaigns", "/api/campaigns/count?kind=hq", "/campaigns/new"):
        assert (await client.get(path, headers=agent)).status == 403, path
    manager = await client.get("/campaigns", headers=logins[Role.SALES_MANAGER].headers())
    assert manager.status == 200 and 'id="campaign-new"' not in await manager.text()


async def test_the_page_starts_and_pauses_with_its_buttons(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    supervisor = logins[Role.SUPERVISOR]
    created = await client.post("/api/campaigns", json={"name": "总部线索", "kind": "hq"}, headers=supervisor.headers())
    cid = (await created.json())["id"]
    page = await (await client.get("/campaigns", headers=supervisor.headers(csrf=False))).text()
    assert f'id="campaign-{cid}-start"' in page and f'id="campaign-{cid}-pause"' not in page
    form = {"csrf_token": _csrf(page)}
    headers = supervisor.headers(csrf=False)
    resp = await client.post(f"/campaigns/{cid}/start", data=form, headers=headers, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/campaigns?done=start&id={cid}&enrolled=2"
    page = await (await client.get(resp.headers["Location"], headers=headers)).text()
    assert "纳入 2 条线索" in page and 'data-status="running"' in page and f'id="campaign-{cid}-pause"' in page
    resp = await client.post(f"/campaigns/{cid}/pause", data=form, headers=headers, allow_redirects=False)
    assert resp.status == 303
    assert (await dialer_app.campaigns.status(cid)).campaign.status is CampaignStatus.PAUSED
    refused = await client.post(f"/campaigns/{cid}/start", data=form, headers=headers)
    assert refused.status == 400 and 'id="campaigns-error"' in await refused.text()
    # Without the token nothing changes.
    assert (await client.post(f"/campaigns/{cid}/resume", headers=headers)).status == 403


async def test_the_form_speaks_chinese_and_english_with_no_key_left_untranslated(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    for lang, words in (("zh-CN", ("活动名称", "周日", "忙线后重拨", "每天最多呼叫次数")),
                        ("en", ("Campaign name", "Sunday", "Retry after", "Attempts per lead per day"))):  # fmt: skip
        html = await (
            await client.get("/campaigns/new", headers={**headers, "Cookie": f"{headers['Cookie']}; dcc_lang={lang}"})
        ).text()
        assert all(word in html for word in words), lang
        assert not re.search(r">[^<]*\b(web|campaign|outcome)\.[a-z_.]+", html), lang
