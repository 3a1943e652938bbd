"""The audit log through the console: each hook leaves its row (actor, action, target), the page and the
API filter, page and show where the chain breaks, and only the supervisor and the admin read them."""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.cli import main
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, AuditEntry, AuditQuery, BreakKind
from dialer.i18n import LANGUAGES, catalog
from tests.conftest import START, write_config
from tests.web.conftest import PASSWORD, Fixtures, Login


async def _rows(app: App, action: AuditAction | None = None) -> list[AuditEntry]:
    entries, _total = await app.audit.entries(AuditQuery(action=action, limit=1000))
    return entries


async def _form_login(client: TestClient, name: str, password: str):  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token
    return await client.post("/login", data={"name": name, "password": password, "csrf_token": token.group(1)},
                             allow_redirects=False)  # fmt: skip


async def test_logins_failures_and_logouts_are_audited_with_the_address(client: TestClient, dialer_app: App) -> None:
    assert (await _form_login(client, "li", "wrong password")).status == 401
    assert (await _form_login(client, "nobody", "wrong password")).status == 401
    assert (await _form_login(client, "li", PASSWORD)).status == 302
    csrf = (await (await client.get("/api/me")).json())["csrf_token"]
    assert (await client.post("/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False)).status == 302

    rows = [(e.actor, e.action, e.target, e.detail_dict()) for e in reversed(await _rows(dialer_app))]
    assert [r for r in rows if r[1] != "user.add"] == [
        ("li", "login.failed", "li", {"address": "127.0.0.1", "reason": "wrong_password"}),
        ("nobody", "login.failed", "nobody", {"address": "127.0.0.1", "reason": "unknown_user"}),
        ("li", "login", "li", {"address": "127.0.0.1"}),
        ("li", "logout", "li", {}),
    ]


async def test_ending_a_users_sessions_logs_them_out_and_is_audited(dialer_app: App, client: TestClient) -> None:
    first = await dialer_app.auth.login("zhang", PASSWORD, "10.0.0.1")
    second = await dialer_app.auth.login("zhang", PASSWORD, "10.0.0.2")
    assert await dialer_app.auth.end_sessions("zhang", actor="root") == 2
    assert await dialer_app.auth.session(first.token) is None and await dialer_app.auth.session(second.token) is None
    (row,) = await _rows(dialer_app, AuditAction.USER_SESSIONS_END)
    assert (row.actor, row.target, row.detail_dict()) == ("root", "zhang", {"sessions_ended": 2})


async def test_a_password_is_never_in_the_log(client: TestClient, dialer_app: App) -> None:
    await _form_login(client, "li", "s3cret-typed-in-the-name-field")
    assert all("s3cret" not in e.detail for e in await _rows(dialer_app))


async def test_the_report_export_is_audited(client: TestClient, dialer_app: App, logins: dict[Role, Login]) -> None:
    resp = await client.get("/reports/export.xlsx?month=2026-10", headers=logins[Role.SALES_MANAGER].headers())
    assert resp.status == 200
    (row,) = await _rows(dialer_app, AuditAction.EXPORT)
    assert (row.actor, row.target, row.detail_dict()) == ("zhao", "reports.xlsx", {"month": "2026-10"})


async def test_recording_plays_and_downloads_are_audited(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT].headers()
    assert (await client.get(f"/recordings/{data.own_recording}/audio", headers=agent)).status == 200
    ranged = {**agent, "Range": "bytes=100-199"}
    assert (await client.get(f"/recordings/{data.own_recording}/audio", headers=ranged)).status == 206
    # Refused: nothing handed out, nothing audited.
    assert (await client.get(f"/recordings/{data.other_recording}/audio", headers=agent)).status == 403
    boss = logins[Role.SUPERVISOR].headers()
    assert (await client.get(f"/recordings/{data.other_recording}/download", headers=boss)).status == 200

    plays = [
        (e.actor, e.target, e.detail_dict()) for e in reversed(await _rows(dialer_app, AuditAction.RECORDING_PLAY))
    ]
    assert plays == [
        ("zhang", str(data.own_recording), {"agent": "agent1", "start": 0, "length": 10240}),
        ("zhang", str(data.own_recording), {"agent": "agent1", "start": 100, "length": 100}),
    ]
    (download,) = await _rows(dialer_app, AuditAction.RECORDING_DOWNLOAD)
    assert (download.actor, download.target) == ("li", str(data.other_recording))


async def test_the_page_and_the_api_filter_and_page(client: TestClient, dialer_app: App, clock: VirtualClock) -> None:
    for n in range(120):
        await dialer_app.audit.record("li", AuditAction.EXPORT, f"x{n}.xlsx", dealer_id=1)
    clock.advance(2 * 86400)
    await dialer_app.audit.record("zhang", AuditAction.LOGIN, "zhang", {"address": "10.0.0.5"}, dealer_id=1)
    new = await dialer_app.auth.login("li", PASSWORD, "10.0.0.6")  # the old sessions went idle meanwhile
    boss = Login(Role.SUPERVISOR, new.token, new.csrf).headers()

    body = await (await client.get("/api/audit?action=export&page=2", headers=boss)).json()
    assert (body["total"], body["page"], len(body["entries"])) == (120, 2, 20)
    assert body["entries"][-1]["target"] == "x0.xlsx" and body["chain"]["holds"] is True
    mine = await (await client.get("/api/audit?actor=zhang", headers=boss)).json()
    assert next(e["detail"] for e in mine["entries"] if e["action"] == "login") == {"address": "10.0.0.5"}
    # Local days: the exports were on 2026-11-29 (Asia/Shanghai), the login two days later.
    day = await (await client.get("/api/audit?since=2026-12-01&until=2026-12-01", headers=boss)).json()
    assert [e["action"] for e in day["entries"]] == ["login", "login"]

    page = await client.get("/audit?action=export", headers=boss)
    html = await page.text()
    assert page.status == 200 and 'id="audit-log"' in html and "x119.xlsx" in html and "x0.xlsx" not in html
    assert 'id="audit-next"' in html and 'id="audit-prev"' not in html
    assert "哈希链完整" in html
    assert 'href="/audit"' in await (await client.get("/desk", headers=boss)).text()


@pytest.mark.parametrize("query", ["action=nope", "since=2026-13-01", "until=yesterday", "page=0", "page=x",
                                   "actor=" + "a" * 201, "since=9999-12-31&until=9999-12-31", "since=0001-01-01"])  # fmt: skip
async def test_bad_filters_are_named(client: TestClient, logins: dict[Role, Login], query: str) -> None:
    resp = await client.get(f"/api/audit?{query}", headers=logins[Role.ADMIN].headers())
    assert resp.status == 400
    name = "until" if "9999" in query else query.split("=", 1)[0]
    assert name in (await resp.json())["fields"]


async def test_the_page_shows_where_the_chain_breaks(
    client: TestClient, dialer_app: App, logins: dict[Role, Login]
) -> None:
    for n in range(4):
        await dialer_app.audit.record("li", AuditAction.EXPORT, f"x{n}.xlsx", dealer_id=1)
    async with dialer_app.db.write() as tx:
        await tx.execute("DROP TRIGGER audit_log_no_delete")
        await tx.execute("DELETE FROM audit_log WHERE target = 'x1.xlsx'")
    victim = max(e.id for e in await _rows(dialer_app) if e.target == "x2.xlsx")
    html = await (await client.get("/audit", headers=logins[Role.ADMIN].headers())).text()
    assert f'id="audit-chain" class="error">哈希链在第 {victim} 条记录处断开' in html
    body = await (await client.get("/api/audit", headers=logins[Role.SUPERVISOR].headers())).json()
    assert body["chain"] | {"rows": 0, "last_id": 0, "last_hash": ""} == {
        "holds": False, "broken_at": victim, "break": "link", "rows": 0, "last_id": 0, "last_hash": "",
    }  # fmt: skip


async def test_only_the_supervisor_and_the_admin_read_the_log(client: TestClient, logins: dict[Role, Login]) -> None:
    for role, login in logins.items():
        for path in ("/audit", "/api/audit"):
            status = (await client.get(path, headers=login.headers(), allow_redirects=False)).status
            assert status == (200 if role in (Role.SUPERVISOR, Role.ADMIN) else 403), (role, path)
    doc = await (await client.get("/api/openapi.json", headers=logins[Role.ADMIN].headers())).json()
    params = {p["name"] for p in doc["paths"]["/api/audit"]["get"]["parameters"]}
    assert params == {"action", "actor", "since", "until", "page"}


def test_the_cli_user_changes_and_the_doss_export_are_audited_as_the_os_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(write_config(tmp_path, doss={"export_dir": str(tmp_path / "exports")}))
    monkeypatch.setenv("NEW_PW", "staple orbit lantern")
    monkeypatch.setenv("NEXT_PW", "violet canyon harbor")
    clock = VirtualClock(START)
    run = [["users", "add", "chen", "--role", "supervisor", "--password-env", "NEW_PW"],
           ["users", "passwd", "chen", "--password-env", "NEXT_PW"], ["users", "disable", "chen"],
           ["users", "enable", "chen"], ["users", "logout", "chen"],
           ["doss", "export", "--date", "2026-11-28"], ["backup", "--to", str(tmp_path / "usb")]]  # fmt: skip
    for argv in run:
        assert main(["--config", cfg, *argv], clock=clock) == 0, argv
    capsys.readouterr()
    assert main(["--config", cfg, "audit", "list", "--json", "--group"], clock=clock) == 0
    rows = json.loads(capsys.readouterr().out)
    me = f"cli:{getpass.getuser()}"
    # The user's changes and the dealer's DOSS sheet are the node's dealer's; a backup of the store the group's.
    assert [r["dealer"] for r in reversed(rows)] == ["main"] * 6 + [None]
    assert main(["--config", cfg, "audit", "list", "--json"], clock=clock) == 0  # (default: this node's dealer)
    assert [r["target"] for r in json.loads(capsys.readouterr().out)][:2] == ["doss.xlsx", "chen"]
    assert main(["--config", cfg, "audit", "list", "--dealer", "nowhere"], clock=clock) == 2
    assert "nowhere" in capsys.readouterr().err
    assert [(r["actor"], r["action"], r["target"]) for r in reversed(rows)] == [
        (me, "user.add", "chen"),
        (me, "user.password", "chen"),
        (me, "user.disable", "chen"),
        (me, "user.enable", "chen"),
        (me, "user.sessions.end", "chen"),
        (me, "export", "doss.xlsx"),
        (me, "export", "backup"),
    ]
    assert rows[1]["detail"]["first"] == rows[1]["detail"]["last"] == "2026-11-28"
    assert rows[0]["detail"]["folder"].startswith(str(tmp_path / "usb"))
    assert main(["--config", cfg, "audit", "list", "--action", "user.disable", "--actor", me], clock=clock) == 0
    listed = capsys.readouterr().out
    assert "user.disable" in listed and "user.enable" not in listed
    for edge in (["--since", "0001-01-01"], ["--until", "9999-12-31"]):
        assert main(["--config", cfg, "audit", "list", *edge], clock=clock) == 2, edge
        assert "outside the dates" in capsys.readouterr().err
    assert main(["--config", cfg, "audit", "verify"], clock=clock) == 0
    assert "哈希链完整：7 条记录" in capsys.readouterr().out
    # The chain's links run across dealers (the group's backup row is chained to main's export): verify is
    # the whole chain's, says so, and takes no dealer.
    with pytest.raises(SystemExit):
        main(["--config", cfg, "audit", "verify", "--help"], clock=clock)
    assert "cannot be narrowed to one dealer" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["--config", cfg, "audit", "verify", "--dealer", "main"], clock=clock)
    assert "unrecognized arguments: --dealer" in capsys.readouterr().err


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_action_and_break_has_its_words(language: str) -> None:
    """The page builds these keys from the stored values; the catalog test cannot see them."""
    words = catalog(language)
    for key in [f"audit.action.{a.value}" for a in AuditAction] + [f"web.audit.break.{k.value}" for k in BreakKind]:
        assert words.get(key), (language, key)
